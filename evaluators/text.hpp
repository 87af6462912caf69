#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

// What only the evaluators need of text: finding a needle with Unicode case folding, and
// finding the JSON in a model's output. The general text helpers are in util/text.hpp.
namespace promptops::evaluators::text {

enum class Anchor { none, start, both };
enum class Case { sensitive, fold };

// Where `needle` occurs in `haystack` (first occurrence; with Anchor::start at 0 only; with
// Anchor::both only as the whole of `haystack`): the position and length of the match in
// `haystack`, or std::nullopt. Case::fold uses Unicode simple case folding (RE2's tables: "É"
// matches "é", "ẞ" matches "ß", but "SS" does not match "ß"); for a needle too long for RE2 it
// falls back to ASCII folding.
std::optional<std::pair<std::size_t, std::size_t>>
find(std::string_view haystack, std::string_view needle, Case cases, Anchor anchor);

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
// from the first object or array in the text that parses. Output nested deeper than
// util::text::k_max_json_depth is not parsed.
ParsedOutput parse_output(std::string_view output, Extract extract);

// The last JSON object in `text` that `wanted` accepts, and the last object of any kind (for a
// reason that says what was there). Objects are read where they stand, alone, in a code fence
// or among prose; only top-level ones count (an object inside another is part of it). Starts
// that do not read as an object cost a bounded amount of work in all, so that a megabyte of
// stray braces stays linear.
struct LastObject {
  std::optional<nlohmann::json> wanted;
  std::optional<nlohmann::json> last;
  bool gave_up = false; // the work bound stopped the search before the end of `text`
};
LastObject last_object(std::string_view text, bool (*wanted)(const nlohmann::json& object));

} // namespace promptops::evaluators::text
