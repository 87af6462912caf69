#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string_view>
#include <vector>

// Reading the big JSON-lines files of runs and baselines (results.jsonl: 100 MB and more)
// quickly: simdjson parses, nlohmann/json holds the values the rest of the code reads.
namespace promptops::util {

// `text` parsed into `out` as nlohmann::json::parse(text, nullptr, false) parses it, several
// times faster (simdjson parses; nlohmann where simdjson refuses). False, with `out`
// discarded, where nlohmann's parser fails; the caller parses again with nlohmann to say where.
bool parse_json(std::string_view text, nlohmann::json& out);

// `line` parsed into `out` as a JSON object, leaving out its top-level members named in
// `skip` (fields the caller never reads cost nothing to hold). Returns false when `line` is
// not a JSON object; the caller parses it again with nlohmann to say where it fails. The same
// texts are accepted as nlohmann's parser accepts, with the same values.
bool parse_json_object_line(std::string_view line, nlohmann::ordered_json& out,
                            std::initializer_list<std::string_view> skip = {});

// One line of a JSON-lines text, as parse_json_object_lines() found it.
struct JsonLine {
  std::size_t number = 0; // from 1
  std::string_view text;  // without its newline
  bool parsed = false;    // `value` holds the line's object; false: not a JSON object
  nlohmann::ordered_json value;
};

// Every line of `text` that is not blank, parsed by parse_json_object_line (with `skip`), in
// order. A big text is parsed on two threads: the machines this runs on have two cores or more.
std::vector<JsonLine> parse_json_object_lines(std::string_view text,
                                              std::initializer_list<std::string_view> skip = {});

} // namespace promptops::util
