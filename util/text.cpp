#include "util/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

namespace promptops::util::text {

namespace {

constexpr std::string_view k_ellipsis = "\xE2\x80\xA6";    // …
constexpr std::string_view k_replacement = "\xEF\xBF\xBD"; // U+FFFD

struct CodePoint {
  char32_t value = 0;
  std::size_t length = 1;
  bool valid = true;
};

// One UTF-8 sequence at `i`; an invalid byte (overlong, surrogate, cut short) is one invalid
// code point of length 1.
CodePoint decode(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) {
    return {lead, 1, true};
  }
  std::size_t length = 0;
  char32_t value = 0;
  char32_t minimum = 0;
  if ((lead & 0xE0U) == 0xC0U) {
    length = 2;
    value = lead & 0x1FU;
    minimum = 0x80;
  } else if ((lead & 0xF0U) == 0xE0U) {
    length = 3;
    value = lead & 0x0FU;
    minimum = 0x800;
  } else if ((lead & 0xF8U) == 0xF0U) {
    length = 4;
    value = lead & 0x07U;
    minimum = 0x10000;
  } else {
    return {lead, 1, false};
  }
  if (i + length > s.size()) {
    return {lead, 1, false};
  }
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0U) != 0x80U) {
      return {lead, 1, false};
    }
    value = (value << 6) | (next & 0x3FU);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return {lead, 1, false};
  }
  return {value, length, true};
}

// Characters that can move the cursor, change colours (with ESC) or reorder what a terminal
// or a page shows: C0 and C1 controls, DEL, line/paragraph separators, bidirectional controls.
bool is_unsafe(char32_t c) {
  return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || c == 0x061C || c == 0x200E ||
         c == 0x200F || (c >= 0x2028 && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

bool is_layout(char32_t c) {
  return c == '\t' || c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029;
}

void append_hex(std::string& out, const char* format, unsigned value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, format, value);
  out += buffer;
}

void append_escape(std::string& out, char32_t c) {
  switch (c) {
  case '\n':
    out += "\\n";
    return;
  case '\t':
    out += "\\t";
    return;
  case '\r':
    out += "\\r";
    return;
  default:
    break;
  }
  if (c < 0x80) {
    append_hex(out, "\\x%02x", static_cast<unsigned>(c));
  } else {
    append_hex(out, "\\u%04x", static_cast<unsigned>(c));
  }
}

} // namespace

std::size_t append_printable(std::string& out, std::string_view s, std::size_t begin,
                             std::size_t max_chars, PrintableOptions options) {
  const bool keep_layout = options.layout == Layout::keep;
  const bool escape_quotes = options.quotes == Quotes::escape;
  // Printable ASCII is copied a run at a time: most text is, and a code point at a time was 2%
  // of a run's CPU.
  const auto plain = [keep_layout, escape_quotes](char c) {
    if (c >= 0x20 && c < 0x7F) {
      return !escape_quotes || (c != '"' && c != '\\');
    }
    return keep_layout && (c == '\t' || c == '\n' || c == '\r');
  };
  std::size_t i = begin;
  for (std::size_t chars = 0; i < s.size() && chars < max_chars; ++chars) {
    if (plain(s[i])) {
      std::size_t end = i + 1;
      while (end < s.size() && chars + (end - i) < max_chars && plain(s[end])) {
        ++end;
      }
      out.append(s.substr(i, end - i));
      chars += end - i - 1;
      i = end;
      continue;
    }
    const CodePoint c = decode(s, i);
    const bool replace = options.invalid == Invalid::replace;
    if (!c.valid) {
      if (replace) {
        out += k_replacement;
      } else {
        append_hex(out, "\\x%02x", static_cast<unsigned char>(s[i]));
      }
    } else if (is_unsafe(c.value) && !(keep_layout && is_layout(c.value))) {
      append_escape(out, c.value);
    } else if (escape_quotes && (c.value == '"' || c.value == '\\')) {
      out += '\\';
      out += static_cast<char>(c.value);
    } else if (replace && (c.value == 0xFFFE || c.value == 0xFFFF)) {
      out += k_replacement;
    } else {
      out.append(s.substr(i, c.length));
    }
    i += c.length;
  }
  return i;
}

std::string printable(std::string_view s, PrintableOptions options) {
  std::string out;
  out.reserve(s.size());
  append_printable(out, s, 0, s.size(), options);
  return out;
}

std::string shorten(std::string_view s, std::size_t max_chars) {
  std::string out;
  if (append_printable(out, s, 0, max_chars) < s.size()) {
    out += k_ellipsis;
  }
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::string quote(std::string_view s, std::size_t max_chars) {
  std::string out = "\"";
  if (append_printable(out, s, 0, max_chars, {.quotes = Quotes::escape}) < s.size()) {
    out += k_ellipsis;
  }
  out += '"';
  return out;
}

std::string quote_around(std::string_view s, std::size_t pos, std::size_t length,
                         std::size_t max_chars) {
  pos = std::min(pos, s.size());
  std::size_t match_chars = 0;
  for (std::size_t i = pos; i < std::min(s.size(), pos + length); i += decode(s, i).length) {
    ++match_chars;
  }
  std::size_t before = match_chars >= max_chars ? 0 : (max_chars - match_chars) / 2;
  std::size_t begin = pos;
  while (begin > 0 && before > 0) {
    --begin;
    while (begin > 0 && (static_cast<unsigned char>(s[begin]) & 0xC0U) == 0x80U) {
      --begin;
    }
    --before;
  }
  std::string out = "\"";
  if (begin > 0) {
    out += k_ellipsis;
  }
  if (append_printable(out, s, begin, max_chars, {.quotes = Quotes::escape}) < s.size()) {
    out += k_ellipsis;
  }
  out += '"';
  return out;
}

std::string show_json(const nlohmann::json& value, std::size_t max_chars) {
  const std::string dumped = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  if (append_printable(out, dumped, 0, max_chars) < dumped.size()) {
    out += k_ellipsis;
  }
  return out;
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes, std::string_view note) {
  if (text.size() <= max_bytes) {
    return std::string(text);
  }
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) {
    --end;
  }
  std::string out(text.substr(0, end));
  out += note;
  return out;
}

std::pair<std::size_t, std::size_t> line_and_column(std::string_view s, std::size_t pos) {
  pos = std::min(pos, s.size());
  const std::string_view before = s.substr(0, pos);
  const std::size_t line =
      1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t line_start =
      before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
  std::size_t column = 1;
  for (std::size_t i = line_start; i < pos; i += decode(s, i).length) {
    ++column;
  }
  return {line, column};
}

std::string_view trim(std::string_view s) {
  const std::size_t first = s.find_first_not_of(k_whitespace);
  if (first == std::string_view::npos) {
    return {};
  }
  const std::size_t last = s.find_last_not_of(k_whitespace);
  return s.substr(first, last - first + 1);
}

std::string size_text(std::int64_t bytes) {
  constexpr std::int64_t k_mib = std::int64_t{1} << 20;
  constexpr std::int64_t k_kib = std::int64_t{1} << 10;
  if (bytes > 0 && bytes % k_mib == 0) {
    return std::to_string(bytes / k_mib) + " MiB";
  }
  if (bytes > 0 && bytes % k_kib == 0) {
    return std::to_string(bytes / k_kib) + " KiB";
  }
  return std::to_string(bytes) + " bytes";
}

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (const char c : trim(s)) {
    if (k_whitespace.find(c) != std::string_view::npos) {
      space = true;
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += c;
  }
  return out;
}

std::optional<std::size_t> balanced_end(std::string_view s, std::size_t begin) {
  std::size_t depth = 0;
  std::optional<std::size_t> end;
  scan_brackets(s, begin, [&](std::size_t i, bool opens) {
    if (opens) {
      ++depth;
    } else if (--depth == 0) {
      end = i + 1;
      return false;
    }
    return true;
  });
  return end;
}

bool nests_deeper(std::string_view s, std::size_t limit) {
  std::size_t depth = 0;
  bool deep = false;
  scan_brackets(s, 0, [&](std::size_t, bool opens) {
    if (opens) {
      deep = ++depth > limit;
      return !deep;
    }
    depth -= depth > 0 ? 1 : 0;
    return true;
  });
  return deep;
}

} // namespace promptops::util::text
