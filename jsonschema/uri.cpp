#include "jsonschema/uri.hpp"

#include <cctype>

namespace promptops::jsonschema::detail {

namespace {

struct UriParts {
  std::optional<std::string_view> scheme;
  std::optional<std::string_view> authority;
  std::string_view path;
  std::optional<std::string_view> query;
  std::optional<std::string_view> fragment;
};

// RFC 3986 appendix B, without a regex engine.
UriParts split_uri(std::string_view uri) {
  UriParts parts;
  if (const auto hash = uri.find('#'); hash != std::string_view::npos) {
    parts.fragment = uri.substr(hash + 1);
    uri = uri.substr(0, hash);
  }
  if (const auto question = uri.find('?'); question != std::string_view::npos) {
    parts.query = uri.substr(question + 1);
    uri = uri.substr(0, question);
  }
  if (has_scheme(uri)) {
    const auto colon = uri.find(':');
    parts.scheme = uri.substr(0, colon);
    uri = uri.substr(colon + 1);
  }
  if (uri.substr(0, 2) == "//") {
    uri = uri.substr(2);
    const auto slash = uri.find('/');
    parts.authority = uri.substr(0, slash);
    uri = slash == std::string_view::npos ? std::string_view() : uri.substr(slash);
  }
  parts.path = uri;
  return parts;
}

// RFC 3986 section 5.2.4.
std::string remove_dot_segments(std::string_view input) {
  // RFC 3986 defines this for absolute paths; a relative one (a file path used as a base)
  // must stay relative.
  const bool relative = !input.empty() && input[0] != '/';
  std::string output;
  while (!input.empty()) {
    if (input.substr(0, 3) == "../") {
      input.remove_prefix(3);
    } else if (input.substr(0, 2) == "./" || input.substr(0, 3) == "/./") {
      input.remove_prefix(2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.substr(0, 4) == "/../" || input == "/..") {
      input = input.size() == 3 ? std::string_view("/") : input.substr(3);
      const auto last = output.rfind('/');
      output.erase(last == std::string::npos ? 0 : last);
    } else if (input == "." || input == "..") {
      input = {};
    } else {
      const auto next = input.find('/', input[0] == '/' ? 1 : 0);
      const auto segment = input.substr(0, next);
      output.append(segment);
      input.remove_prefix(segment.size());
    }
  }
  if (relative && !output.empty() && output[0] == '/') {
    output.erase(0, 1);
  }
  return output;
}

std::string recompose(const UriParts& parts, const std::string& path) {
  std::string out;
  if (parts.scheme) {
    out.append(*parts.scheme).push_back(':');
  }
  if (parts.authority) {
    out.append("//").append(*parts.authority);
  }
  out.append(path);
  if (parts.query) {
    out.append("?").append(*parts.query);
  }
  if (parts.fragment) {
    out.append("#").append(*parts.fragment);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

bool has_scheme(std::string_view uri) {
  if (uri.empty() || !std::isalpha(static_cast<unsigned char>(uri[0]))) {
    return false;
  }
  for (const char c : uri) {
    if (c == ':') {
      return true;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return false;
}

std::string resolve_uri(std::string_view base, std::string_view reference) {
  const UriParts ref = split_uri(reference);
  UriParts target;
  std::string path;
  if (ref.scheme) {
    target = ref;
    path = remove_dot_segments(ref.path);
    return recompose(target, path);
  }
  const UriParts b = split_uri(base);
  target.scheme = b.scheme;
  target.fragment = ref.fragment;
  if (ref.authority) {
    target.authority = ref.authority;
    target.query = ref.query;
    path = remove_dot_segments(ref.path);
  } else {
    target.authority = b.authority;
    if (ref.path.empty()) {
      path = std::string(b.path);
      target.query = ref.query ? ref.query : b.query;
    } else {
      target.query = ref.query;
      if (ref.path[0] == '/') {
        path = remove_dot_segments(ref.path);
      } else {
        std::string merged;
        if (b.authority && b.path.empty()) {
          merged.push_back('/');
          merged.append(ref.path);
        } else {
          const auto slash = b.path.rfind('/');
          merged = slash == std::string_view::npos
                       ? std::string(ref.path)
                       : std::string(b.path.substr(0, slash + 1)) + std::string(ref.path);
        }
        path = remove_dot_segments(merged);
      }
    }
  }
  return recompose(target, path);
}

std::string_view strip_fragment(std::string_view uri) {
  return uri.substr(0, uri.find('#'));
}

std::optional<std::string_view> fragment_of(std::string_view uri) {
  const auto hash = uri.find('#');
  if (hash == std::string_view::npos) {
    return std::nullopt;
  }
  return uri.substr(hash + 1);
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) {
    return tokens;
  }
  if (pointer[0] != '/') {
    return std::nullopt;
  }
  std::size_t start = 1;
  while (true) {
    const auto end = pointer.find('/', start);
    const auto raw = pointer.substr(start, end == std::string_view::npos ? end : end - start);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token.push_back(raw[i]);
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        return std::nullopt;
      }
    }
    tokens.push_back(std::move(token));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  return tokens;
}

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (const char c : token) {
    if (c == '~') {
      out.append("~0");
    } else if (c == '/') {
      out.append("~1");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

} // namespace promptops::jsonschema::detail
