#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

// Text and UTF-8 helpers: what is safe to print, whitespace, cutting text on a character, and
// scanning JSON text without parsing it. They know nothing of prompts, runs or output formats.
namespace promptops::util::text {

// The ASCII whitespace that trim() removes.
inline constexpr std::string_view k_whitespace = " \t\n\r\f\v";

// How printable text writes what it does not copy as it is. The characters that are not safe
// to print are always the same: C0 and C1 controls, DEL, the line and paragraph separators
// U+2028 and U+2029, and the bidirectional controls (U+061C, U+200E, U+200F, U+202A to U+202E,
// U+2066 to U+2069); they are written as escapes ("\n", "\x1b", "\u202e").
enum class Quotes {
  keep,
  escape, // `"` and `\` get a backslash: the text goes between double quotes
};
enum class Layout {
  escape,
  keep, // tab, line feed, carriage return, U+2028 and U+2029 stay: a format that shows lines
};
enum class Invalid {
  escape,  // an invalid UTF-8 byte becomes "\xNN"
  replace, // an invalid byte, U+FFFE and U+FFFF become U+FFFD: text for a format (XML) that
           // allows neither
};
struct PrintableOptions {
  Quotes quotes = Quotes::keep;
  Layout layout = Layout::escape;
  Invalid invalid = Invalid::escape;
};

// Append `s` from byte `begin` on to `out`, made printable (see PrintableOptions), stopping
// after `max_chars` code points (an escape counts as one). Returns the byte of `s` where it
// stopped: s.size() when it took everything.
std::size_t append_printable(std::string& out, std::string_view s, std::size_t begin,
                             std::size_t max_chars, PrintableOptions options = {});

// `s` made safe to print (see PrintableOptions); everything else is kept.
std::string printable(std::string_view s, PrintableOptions options = {});

// printable(s), cut after `max_chars` code points with "…": for text from outside (a key of
// the output in a JSON Pointer, a command's own reason) that may be of any length.
std::string shorten(std::string_view s, std::size_t max_chars);

// The length of the well-formed UTF-8 sequence at s[0] (a byte >= 0x80), or 0 when it is not
// one: the same rule as nlohmann's decoder (no overlong forms, no surrogates, nothing past
// U+10FFFF).
inline std::size_t utf8_sequence_length(const unsigned char* s, std::size_t left) {
  const auto tail = [&](std::size_t k) { return k < left && (s[k] & 0xC0) == 0x80; };
  const unsigned char c = s[0];
  if (c >= 0xC2 && c <= 0xDF) {
    return tail(1) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 2) {
      return 0;
    }
    const unsigned char c1 = s[1];
    const bool second = c == 0xE0   ? (c1 >= 0xA0 && c1 <= 0xBF)
                        : c == 0xED ? (c1 >= 0x80 && c1 <= 0x9F)
                                    : (c1 & 0xC0) == 0x80;
    return second && tail(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 2) {
      return 0;
    }
    const unsigned char c1 = s[1];
    const bool second = c == 0xF0   ? (c1 >= 0x90 && c1 <= 0xBF)
                        : c == 0xF4 ? (c1 >= 0x80 && c1 <= 0x8F)
                                    : (c1 & 0xC0) == 0x80;
    return second && tail(2) && tail(3) ? 4 : 0;
  }
  return 0;
}

// `s` with A-Z made a-z, every other byte kept: for matching ASCII words (tags, keywords)
// in text of any encoding.
std::string ascii_lower(std::string_view s);

// `s` in double quotes: printable(), with `"` and `\` escaped as well, cut after `max_chars`
// code points with "…" before the closing quote.
std::string quote(std::string_view s, std::size_t max_chars = 80);

// A quoted piece of `s` around the `length` bytes at `pos`, about `max_chars` code points
// long, with "…" where it was cut.
std::string quote_around(std::string_view s, std::size_t pos, std::size_t length,
                         std::size_t max_chars = 80);

// A JSON value written compactly and made printable, cut after `max_chars` code points with
// "…".
std::string show_json(const nlohmann::json& value, std::size_t max_chars = 80);

// `text` cut to at most `max_bytes` bytes on a character boundary, with `note` appended when it
// was cut. Only a continuation byte moves the cut, so `text` should be valid UTF-8.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes, std::string_view note);

// 1-based line and column (in code points; an invalid byte counts as one) of byte `pos`.
std::pair<std::size_t, std::size_t> line_and_column(std::string_view s, std::size_t pos);

// `s` without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s);

// `s` trimmed, with every run of ASCII whitespace replaced by one space.
std::string collapse_whitespace(std::string_view s);

// A size in the largest unit that divides it: "64 MiB", "512 KiB", "1000 bytes".
std::string size_text(std::int64_t bytes);

// Calls on_bracket(i, opens) for each bracket of `s` from `begin` on that is outside a JSON
// string, until it returns false. One pass, no allocation: safe on texts of any size.
template <typename OnBracket>
void scan_brackets(std::string_view s, std::size_t begin, OnBracket on_bracket) {
  bool in_string = false;
  for (std::size_t i = begin; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if ((c == '{' || c == '[' || c == '}' || c == ']') &&
               !on_bracket(i, c == '{' || c == '[')) {
      return;
    }
  }
}

// The end (one past) of the bracketed value that starts at `begin`, skipping brackets inside
// strings; std::nullopt when it does not close.
std::optional<std::size_t> balanced_end(std::string_view s, std::size_t begin);

// Deeper than this, JSON is not parsed: nlohmann recurses once a level, and so do printing,
// comparing and validating; no real answer nests this deep.
inline constexpr std::size_t k_max_json_depth = 512;

// True when brackets outside strings nest more than `limit` levels deep in `s`; stops as soon
// as they do.
bool nests_deeper(std::string_view s, std::size_t limit);

} // namespace promptops::util::text
