#include "evaluators/text.hpp"

#include "util/json_lines.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <cstdio>

namespace promptops::evaluators::text {

namespace {

using json = nlohmann::json;

constexpr std::string_view k_whitespace = " \t\n\r\f\v";
constexpr std::string_view k_ellipsis = "\xE2\x80\xA6"; // …

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
// shows: C0 and C1 controls, DEL, line/paragraph separators, bidirectional controls.
bool is_unsafe(char32_t c) {
  return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || c == 0x061C || c == 0x200E ||
         c == 0x200F || (c >= 0x2028 && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
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

enum class Quotes { keep, escape };

// Append `s` from byte `begin`, escaped, stopping after `max_chars` code points. Returns the
// byte where it stopped (s.size() when it took everything).
std::size_t append_printable(std::string& out, std::string_view s, std::size_t begin,
                             std::size_t max_chars, Quotes quotes) {
  // Printable ASCII is copied a run at a time: most of a reason is, and a code point at a time
  // was 2% of a run's CPU.
  const auto plain = [quotes](char c) {
    return c >= 0x20 && c < 0x7F && (quotes == Quotes::keep || (c != '"' && c != '\\'));
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
    if (!c.valid) {
      append_hex(out, "\\x%02x", static_cast<unsigned char>(s[i]));
    } else if (is_unsafe(c.value)) {
      append_escape(out, c.value);
    } else if (quotes == Quotes::escape && (c.value == '"' || c.value == '\\')) {
      out += '\\';
      out += static_cast<char>(c.value);
    } else {
      out.append(s.substr(i, c.length));
    }
    i += c.length;
  }
  return i;
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

std::optional<std::pair<std::size_t, std::size_t>>
find_exact(std::string_view haystack, std::string_view needle, Anchor anchor) {
  switch (anchor) {
  case Anchor::none: {
    const auto pos = haystack.find(needle);
    if (pos == std::string_view::npos) {
      return std::nullopt;
    }
    return std::pair{pos, needle.size()};
  }
  case Anchor::start:
    if (haystack.starts_with(needle)) {
      return std::pair{std::size_t{0}, needle.size()};
    }
    return std::nullopt;
  case Anchor::both:
    if (haystack == needle) {
      return std::pair{std::size_t{0}, needle.size()};
    }
    return std::nullopt;
  }
  return std::nullopt;
}

// 1-based line and column (in code points) of byte `pos`.
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

std::optional<json> parse_quietly(std::string_view s) {
  json value;
  if (!util::parse_json(s, value)) {
    return std::nullopt;
  }
  return value;
}

struct Found {
  json value;
  std::size_t begin = 0; // the bytes of the output that held the JSON (the fence included)
  std::size_t end = 0;
  std::string fence_info;
};

// The first ``` code fence whose content parses as JSON.
std::optional<Found> find_fenced(std::string_view s) {
  std::size_t pos = 0;
  for (int fences = 0; fences < 16; ++fences) {
    const std::size_t open = s.find("```", pos);
    if (open == std::string_view::npos) {
      return std::nullopt;
    }
    const std::size_t newline = s.find('\n', open + 3);
    if (newline == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view info = trim(s.substr(open + 3, newline - open - 3));
    const std::size_t content = newline + 1;
    std::size_t close = s.find("```", content);
    const std::size_t end = close == std::string_view::npos ? s.size() : close + 3;
    if (close == std::string_view::npos) {
      close = s.size(); // an answer cut off before its closing fence
    }
    if (auto value = parse_quietly(s.substr(content, close - content))) {
      return Found{std::move(*value), open, end, std::string(info)};
    }
    pos = end;
  }
  return std::nullopt;
}

// The first object or array among prose that parses. Tries a bounded number of starts so that
// a megabyte of text full of braces stays linear.
std::optional<Found> find_embedded(std::string_view s) {
  std::size_t pos = 0;
  for (int tries = 0; tries < 32; ++tries) {
    const std::size_t begin = s.find_first_of("{[", pos);
    if (begin == std::string_view::npos) {
      return std::nullopt;
    }
    if (const auto end = balanced_end(s, begin)) {
      if (auto value = parse_quietly(s.substr(begin, *end - begin))) {
        return Found{std::move(*value), begin, *end, ""};
      }
    }
    pos = begin + 1;
  }
  return std::nullopt;
}

// Deeper JSON than this is refused: printing, comparing and validating recurse, and no real
// answer nests this deep.

// The deepest bracket nesting outside strings: a cheap bound on the depth of any JSON in `s`.
std::string fence_name(const std::string& info) {
  // Only the language word of the info string ("json" of "json title=x").
  const std::string word = info.substr(0, info.find_first_of(k_whitespace));
  return "```" + printable(word.substr(0, 20));
}

} // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_printable(out, s, 0, s.size(), Quotes::keep);
  return out;
}

std::string shorten(std::string_view s, std::size_t max_chars) {
  std::string out;
  if (append_printable(out, s, 0, max_chars, Quotes::keep) < s.size()) {
    out += k_ellipsis;
  }
  return out;
}

std::string quote(std::string_view s, std::size_t max_chars) {
  std::string out = "\"";
  if (append_printable(out, s, 0, max_chars, Quotes::escape) < s.size()) {
    out += k_ellipsis;
  }
  out += '"';
  return out;
}

std::string show_json(const json& value, std::size_t max_chars) {
  // Cap the text dumped for a huge value: only its start is shown.
  const std::string dumped = value.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  if (append_printable(out, dumped, 0, max_chars, Quotes::keep) < dumped.size()) {
    out += k_ellipsis;
  }
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
  if (append_printable(out, s, begin, max_chars, Quotes::escape) < s.size()) {
    out += k_ellipsis;
  }
  out += '"';
  return out;
}

std::string_view trim(std::string_view s) {
  const std::size_t first = s.find_first_not_of(k_whitespace);
  if (first == std::string_view::npos) {
    return {};
  }
  const std::size_t last = s.find_last_not_of(k_whitespace);
  return s.substr(first, last - first + 1);
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

std::optional<std::pair<std::size_t, std::size_t>>
find(std::string_view haystack, std::string_view needle, Case cases, Anchor anchor) {
  if (cases == Case::sensitive) {
    return find_exact(haystack, needle, anchor);
  }
  // RE2 refuses a literal this long within its default memory budget (from about 700 KB on,
  // whatever the characters), but only after parsing all of it: a second for a 5 MB needle.
  constexpr std::size_t k_too_long_for_re2 = std::size_t{1} << 20;
  if (needle.size() > k_too_long_for_re2) {
    return find_exact(ascii_lower(haystack), ascii_lower(needle), anchor);
  }
  RE2::Options options;
  options.set_literal(true);
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  const RE2 re(needle, options);
  if (!re.ok()) {
    // Too long for RE2's memory budget (or not UTF-8): ASCII folding keeps byte positions.
    return find_exact(ascii_lower(haystack), ascii_lower(needle), anchor);
  }
  const RE2::Anchor re_anchor = anchor == Anchor::none    ? RE2::UNANCHORED
                                : anchor == Anchor::start ? RE2::ANCHOR_START
                                                          : RE2::ANCHOR_BOTH;
  re2::StringPiece match;
  if (!re.Match(haystack, 0, haystack.size(), re_anchor, &match, 1)) {
    return std::nullopt;
  }
  return std::pair{static_cast<std::size_t>(match.data() - haystack.data()), match.size()};
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

ParsedOutput parse_output(std::string_view output, Extract extract) {
  ParsedOutput result;
  if (nests_deeper(output, k_max_json_depth)) {
    result.problem =
        "the output nests brackets more than " + std::to_string(k_max_json_depth) + " levels deep";
    return result;
  }
  std::string not_json;
  try {
    if (json value; util::parse_json(output, value)) {
      result.value = std::move(value);
      return result;
    }
    result.value = json::parse(output); // throws, saying where
    return result;
  } catch (const json::parse_error& e) {
    if (trim(output).empty()) {
      not_json = output.empty() ? "the output is empty" : "the output is blank";
    } else {
      const std::size_t pos = e.byte == 0 ? 0 : std::min(e.byte - 1, output.size());
      const auto [line, column] = line_and_column(output, pos);
      not_json = "the output is not JSON (line " + std::to_string(line) + ", column " +
                 std::to_string(column) + ": " + quote_around(output, pos, 1, 40) + ")";
    }
  } catch (const json::out_of_range&) { // a number beyond a double: 1e400
    not_json = "the output is not JSON (a number too large)";
  }

  std::optional<Found> found = find_fenced(output);
  if (found) {
    result.wrapping = Wrapping::fence;
    result.fence_info = found->fence_info;
    result.problem =
        "the output wraps its JSON in a " + fence_name(found->fence_info) + " code fence";
  } else if ((found = find_embedded(output))) {
    result.wrapping = Wrapping::prose;
    const std::string_view before = trim(output.substr(0, found->begin));
    const std::string_view after = trim(output.substr(found->end));
    std::string where;
    if (!before.empty()) {
      where = quote(before, 40) + " before it";
    }
    if (!after.empty()) {
      where += (where.empty() ? "" : ", ") + quote(after, 40) + " after it";
    }
    result.problem = "the output has text around its JSON (" + where + ")";
  } else {
    result.problem = std::move(not_json);
    return result;
  }
  if (extract == Extract::yes) {
    result.value = std::move(found->value);
    result.problem.clear();
  }
  return result;
}

} // namespace promptops::evaluators::text
