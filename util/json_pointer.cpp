#include "util/json_pointer.hpp"

#include <cctype>

namespace promptops::util {

std::string pointer_append(std::string_view base, std::string_view token) {
  std::string out(base);
  out += '/';
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string pointer_append(std::string_view base, std::size_t index) {
  return std::string(base) + '/' + std::to_string(index);
}

std::string pointer_parent(std::string_view pointer) {
  const auto slash = pointer.rfind('/');
  if (slash == std::string_view::npos) {
    return "";
  }
  return std::string(pointer.substr(0, slash));
}

namespace {
std::string unescape(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size()) {
      out += token[i + 1] == '1' ? '/' : '~';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}
} // namespace

std::string pointer_last_token(std::string_view pointer) {
  const auto slash = pointer.rfind('/');
  if (slash == std::string_view::npos) {
    return "";
  }
  return unescape(pointer.substr(slash + 1));
}

std::string pointer_to_display(std::string_view pointer) {
  std::string out;
  std::size_t pos = 0;
  while (pos < pointer.size()) {
    const std::size_t next = pointer.find('/', pos + 1);
    const std::string token =
        unescape(pointer.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1));
    const bool is_index =
        !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
    if (is_index) {
      out += '[' + token + ']';
    } else {
      if (!out.empty()) {
        out += '.';
      }
      out += token;
    }
    if (next == std::string_view::npos) {
      break;
    }
    pos = next;
  }
  return out;
}

} // namespace promptops::util
