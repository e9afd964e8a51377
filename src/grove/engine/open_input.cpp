// Opening an image file as an input node (kept apart from node.cpp so that code using only
// in-memory nodes does not link the io formats).
#include <fmt/format.h>
#include <sys/stat.h>

#include "grove/engine/node.h"

namespace grove {

Result<NodePtr> open_input_node(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_image(path));
  std::string identity = path;
  struct stat st {};
  const std::string file = split_image_path(path).file;
  if (::stat(file.c_str(), &st) == 0) {
    identity += fmt::format("|{}|{}.{}", static_cast<long long>(st.st_size),
                            static_cast<long long>(st.st_mtim.tv_sec),
                            static_cast<long long>(st.st_mtim.tv_nsec));
  }
  return input_node(std::shared_ptr<ImageReader>(std::move(reader)), identity);
}

}  // namespace grove
