// Path checks for the --root folder (see root_folder.h).
#include "root_folder.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <optional>

namespace grove::server {
namespace {

std::optional<std::string> real_path(const std::string& path) {
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) == nullptr) return std::nullopt;
  return std::string(buffer);
}

bool exists(const std::string& path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0;
}

bool is_regular_file(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

ResolvedPath refuse(PathVerdict verdict, std::string message) {
  return {verdict, "", std::move(message)};
}

}  // namespace

bool path_is_under(const std::string& root, const std::string& path) {
  if (root == "/") return !path.empty() && path[0] == '/';
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  // "/data/root-other" is not under "/data/root".
  return path.size() == root.size() || path[root.size()] == '/';
}

Result<RootFolder> RootFolder::open(const std::string& folder) {
  std::optional<std::string> canonical = real_path(folder.empty() ? "." : folder);
  struct stat info;
  if (!canonical || ::stat(canonical->c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return make_error(ErrorCode::kNotFound, "--root {}: not an existing folder", folder);
  }
  RootFolder root;
  root.path_ = *canonical;
  return root;
}

ResolvedPath RootFolder::join(const std::string& user_path) const {
  if (user_path.empty()) return refuse(PathVerdict::invalid, "the path is empty");
  if (user_path.size() > 4096) return refuse(PathVerdict::invalid, "the path is too long");
  if (user_path.find('\0') != std::string::npos) {
    return refuse(PathVerdict::invalid, "the path contains a NUL character");
  }
  std::filesystem::path path(user_path);
  for (const auto& part : path) {
    if (part == "..") {
      return refuse(PathVerdict::outside,
                    "'..' is not allowed in paths: files can only be opened below the root "
                    "folder " +
                        path_);
    }
  }
  if (path.is_relative()) path = std::filesystem::path(path_) / path;
  std::string joined = path.lexically_normal().string();
  while (joined.size() > 1 && joined.back() == '/') joined.pop_back();
  if (!path_is_under(path_, joined)) {
    return refuse(PathVerdict::outside, user_path + " is outside the root folder " + path_);
  }
  return {PathVerdict::inside, joined, ""};
}

ResolvedPath RootFolder::resolve_existing(const std::string& user_path) const {
  ResolvedPath joined = join(user_path);
  if (joined.verdict != PathVerdict::inside) return joined;
  std::optional<std::string> canonical = real_path(joined.path);
  if (!canonical) return refuse(PathVerdict::not_found, user_path + " does not exist");
  if (!path_is_under(path_, *canonical)) {
    return refuse(PathVerdict::outside,
                  user_path + " leads outside the root folder " + path_ + " (a symbolic link)");
  }
  return {PathVerdict::inside, *canonical, ""};
}

ResolvedPath RootFolder::resolve_image(const std::string& user_path) const {
  ResolvedPath joined = join(user_path);
  if (joined.verdict != PathVerdict::inside) return joined;
  if (exists(joined.path)) return resolve_existing(user_path);
  // Walk up to the container file: "/root/a/cells.h5/data/raw" → "/root/a/cells.h5" + "data/raw".
  std::filesystem::path on_disk(joined.path);
  std::filesystem::path internal;
  while (on_disk.has_parent_path() && on_disk != on_disk.root_path()) {
    internal = internal.empty() ? on_disk.filename() : on_disk.filename() / internal;
    on_disk = on_disk.parent_path();
    if (!exists(on_disk.string())) continue;
    if (!is_regular_file(on_disk.string())) break;  // a folder: the file itself is missing
    ResolvedPath file = resolve_existing(on_disk.string());
    if (file.verdict != PathVerdict::inside) return file;
    return {PathVerdict::inside, file.path + "/" + internal.string(), ""};
  }
  return refuse(PathVerdict::not_found, user_path + " does not exist");
}

ResolvedPath RootFolder::resolve_new(const std::string& user_path) const {
  ResolvedPath joined = join(user_path);
  if (joined.verdict != PathVerdict::inside) return joined;
  std::filesystem::path path(joined.path);
  if (path == std::filesystem::path(path_)) {
    return refuse(PathVerdict::invalid, "the path names the root folder, not a file");
  }
  ResolvedPath folder = resolve_existing(path.parent_path().string());
  if (folder.verdict == PathVerdict::not_found) {
    return refuse(PathVerdict::not_found,
                  "the folder " + path.parent_path().string() + " does not exist");
  }
  if (folder.verdict != PathVerdict::inside) return folder;
  std::string target = folder.path + (folder.path == "/" ? "" : "/") + path.filename().string();
  if (exists(target)) {
    // An existing file (or a symlink, possibly dangling) must stay inside the root.
    std::optional<std::string> canonical = real_path(target);
    if (!canonical || !path_is_under(path_, *canonical)) {
      return refuse(PathVerdict::outside,
                    user_path + " leads outside the root folder " + path_ + " (a symbolic link)");
    }
    return {PathVerdict::inside, *canonical, ""};
  }
  return {PathVerdict::inside, target, ""};
}

std::string RootFolder::relative(const std::string& canonical_path) const {
  if (canonical_path == path_) return "";
  if (!path_is_under(path_, canonical_path)) return canonical_path;
  return canonical_path.substr(path_ == "/" ? 1 : path_.size() + 1);
}

}  // namespace grove::server
