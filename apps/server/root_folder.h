// The --root folder of `grove serve`: the only place the page may open, add, save or export
// files. Every path that comes from the page goes through here before the backend sees it.
// Paths are checked lexically (no ".." components), then canonicalised with realpath so that
// symbolic links pointing out of the root are refused too.
#pragma once

#include <string>

#include "grove/core/result.h"

namespace grove::server {

// Why a path was refused, for the HTTP status: outside the root → 403, missing → 404, a
// malformed path → 400.
enum class PathVerdict { inside, outside, not_found, invalid };

struct ResolvedPath {
  PathVerdict verdict = PathVerdict::invalid;
  std::string path;     // absolute and canonical (with a container's internal part appended)
  std::string message;  // for the page when refused
};

// True if `path` (absolute, canonical) is `root` or lies below it.
bool path_is_under(const std::string& root, const std::string& path);

class RootFolder {
 public:
  // The folder must exist; it is canonicalised.
  static Result<RootFolder> open(const std::string& folder);

  const std::string& path() const { return path_; }

  // An existing file or folder. Relative paths are taken from the root.
  ResolvedPath resolve_existing(const std::string& user_path) const;
  // An image path: an existing file or folder, or an existing container file followed by the
  // path of a dataset inside it ("a/cells.h5/data/raw"); only the on-disk part must exist.
  ResolvedPath resolve_image(const std::string& user_path) const;
  // A file to be written: its folder must exist under the root; an existing file at the path
  // must itself resolve under the root (no writing through a symlink out of it).
  ResolvedPath resolve_new(const std::string& user_path) const;
  // The path of a folder below the root, relative to it ("" for the root itself).
  std::string relative(const std::string& canonical_path) const;

 private:
  // The joined, lexically checked absolute path, or a refusal.
  ResolvedPath join(const std::string& user_path) const;
  std::string path_;
};

}  // namespace grove::server
