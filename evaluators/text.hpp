#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

// Text helpers the evaluators share: reasons that are safe to print, whitespace and case
// handling, and finding the JSON in a model's output.
namespace promptops::evaluators::text {

// `s` made safe to print on a terminal: control characters (C0, DEL, C1), line and paragraph
// separators, bidirectional overrides and invalid UTF-8 bytes are written as escapes ("\n",
// "\t", "\x1b", "\u202e"); everything else is kept.
std::string printable(std::string_view s);

// printable(s), cut after `max_chars` code points with "…": for text from outside (a key of
// the output in a JSON Pointer, a command's own reason) that may be of any length.
std::string shorten(std::string_view s, std::size_t max_chars);

// `s` in double quotes for a reason: printable(), with `"` and `\` escaped as well, cut after
// `max_chars` code points with "…" before the closing quote.
std::string quote(std::string_view s, std::size_t max_chars = 80);

// A JSON value written compactly for a reason, cut after `max_chars` code points with "…".
std::string show_json(const nlohmann::json& value, std::size_t max_chars = 80);

// A quoted piece of `s` around the `length` bytes at `pos`, about `max_chars` code points
// long, with "…" where it was cut.
std::string quote_around(std::string_view s, std::size_t pos, std::size_t length,
                         std::size_t max_chars = 80);

// `s` without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s);

// `s` trimmed, with every run of ASCII whitespace replaced by one space.
std::string collapse_whitespace(std::string_view s);

enum class Anchor { none, start, both };
enum class Case { sensitive, fold };

// Where `needle` occurs in `haystack` (first occurrence; with Anchor::start at 0 only; with
// Anchor::both only as the whole of `haystack`): the position and length of the match in
// `haystack`, or std::nullopt. Case::fold uses Unicode simple case folding (RE2's tables: "É"
// matches "é", "ẞ" matches "ß", but "SS" does not match "ß"); for a needle too long for RE2 it
// falls back to ASCII folding.
std::optional<std::pair<std::size_t, std::size_t>>
find(std::string_view haystack, std::string_view needle, Case cases, Anchor anchor);

// Calls on_bracket(i, opens) for each bracket of `s` from `begin` on that is outside a JSON
// string, until it returns false. One pass, no allocation: safe on outputs of any size.
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

// Deeper than this, JSON is not parsed (nlohmann recurses once a level).
inline constexpr std::size_t k_max_json_depth = 512;

// True when brackets outside strings nest more than `limit` levels deep in `s`; stops as soon
// as they do.
bool nests_deeper(std::string_view s, std::size_t limit);

// How a model's output holds its JSON.
enum class Wrapping {
  none,  // the output is JSON (surrounding whitespace allowed)
  fence, // inside a ``` code fence
  prose, // a JSON object or array with other text around it
};

struct ParsedOutput {
  std::optional<nlohmann::json> value; // set when the output is JSON, or extraction found it
  Wrapping wrapping = Wrapping::none;  // where the JSON was (also when `value` is unset)
  std::string fence_info;              // the fence's info string ("json", "" for a bare ```)
  std::string problem; // when `value` is unset: why, e.g. "not JSON (line 1, column 1): ..."
};

enum class Extract { no, yes };

// Parse `output` as JSON. With Extract::no, JSON in a code fence or among prose is not
// accepted, but `wrapping` says where it was, so that the caller can say so. With
// Extract::yes the JSON is taken out of the first code fence that holds valid JSON, or else
// from the first object or array in the text that parses.
ParsedOutput parse_output(std::string_view output, Extract extract);

} // namespace promptops::evaluators::text
