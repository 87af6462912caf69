#include "util/json_write.hpp"

#include "util/text.hpp"

#include <array>
#include <charconv>

namespace promptops::util {

namespace {

// The bytes a string cannot hold as they are: control characters, '"', '\\', and the start of
// anything not ASCII (checked as UTF-8). A table: the test per byte is the inner loop.
constexpr auto k_special = [] {
  std::array<bool, 256> special{};
  for (int c = 0; c < 256; ++c) {
    special[static_cast<std::size_t>(c)] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
  }
  return special;
}();

template <class Json> void append_value(std::string& out, const Json& value) {
  switch (value.type()) {
  case nlohmann::json::value_t::null:
    out += "null";
    return;
  case nlohmann::json::value_t::boolean:
    out += value.template get<bool>() ? "true" : "false";
    return;
  case nlohmann::json::value_t::number_integer:
  case nlohmann::json::value_t::number_unsigned: {
    char buffer[24];
    const auto r =
        value.is_number_unsigned()
            ? std::to_chars(buffer, buffer + sizeof buffer, value.template get<std::uint64_t>())
            : std::to_chars(buffer, buffer + sizeof buffer, value.template get<std::int64_t>());
    out.append(buffer, r.ptr);
    return;
  }
  case nlohmann::json::value_t::string:
    append_json_string(out, value.template get_ref<const std::string&>());
    return;
  case nlohmann::json::value_t::array: {
    out += '[';
    bool first = true;
    for (const auto& element : value) {
      if (!first) {
        out += ',';
      }
      first = false;
      append_value(out, element);
    }
    out += ']';
    return;
  }
  case nlohmann::json::value_t::object: {
    out += '{';
    bool first = true;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!first) {
        out += ',';
      }
      first = false;
      append_json_string(out, it.key());
      out += ':';
      append_value(out, it.value());
    }
    out += '}';
    return;
  }
  default:
    // Floating point (nlohmann's own shortest form: "1.0", "1e+20", NaN as null), binary and
    // discarded values: few per document, left to nlohmann.
    out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  const std::size_t start = out.size();
  const auto* bytes = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  out += '"';
  std::size_t i = 0;
  while (i < n) {
    const std::size_t run = i;
    while (i < n && !k_special[bytes[i]]) {
      ++i;
    }
    out.append(s.data() + run, i - run);
    if (i == n) {
      break;
    }
    const unsigned char c = bytes[i];
    if (c >= 0x80) {
      const std::size_t length = text::utf8_sequence_length(bytes + i, n - i);
      if (length == 0) {
        // Invalid UTF-8: nlohmann decides how much each U+FFFD replaces; let it write all.
        out.resize(start);
        out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return;
      }
      out.append(s.data() + i, length);
      i += length;
      continue;
    }
    switch (c) {
    case '"':
    case '\\':
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default: {
      static const char* hex = "0123456789abcdef";
      const char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      out.append(escaped, sizeof escaped);
    }
    }
    ++i;
  }
  out += '"';
}

void append_json(std::string& out, const nlohmann::json& value) {
  append_value(out, value);
}

void append_json(std::string& out, const nlohmann::ordered_json& value) {
  append_value(out, value);
}

} // namespace promptops::util
