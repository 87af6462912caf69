#pragma once

#include <string_view>

namespace promptops::util {

// A file carried inside the binary (see cmake/EmbedFiles.cmake).
struct EmbeddedFile {
  std::string_view path; // relative, '/'-separated
  std::string_view text;
};

} // namespace promptops::util
