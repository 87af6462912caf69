#include "cli/output.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace promptops::cli {

void print(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
    throw Error(std::string("cannot write to standard output: ") + std::strerror(errno), 3);
  }
}

void print_note(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
}

} // namespace promptops::cli
