#pragma once

#include <cstddef>
#include <string_view>

namespace promptops::util {

// Calls on_line(number, line) for each line of `text` (numbers from 1; the '\n' and a '\r'
// before it are not part of the line; no call for the empty rest after a final '\n').
template <typename OnLine> void for_each_line(std::string_view text, OnLine on_line) {
  std::size_t number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    on_line(++number, line);
    start = end + 1;
  }
}

} // namespace promptops::util
