#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string_view>

// Reading the big JSON-lines files of runs and baselines (results.jsonl: 100 MB and more)
// quickly: simdjson parses, nlohmann/json holds the values the rest of the code reads.
namespace promptops::util {

// `line` parsed into `out` as a JSON object, leaving out its top-level members named in
// `skip` (fields the caller never reads cost nothing to hold). Returns false when `line` is
// not a JSON object; the caller parses it again with nlohmann to say where it fails. The same
// texts are accepted as nlohmann's parser accepts, with the same values.
bool parse_json_object_line(std::string_view line, nlohmann::ordered_json& out,
                            std::initializer_list<std::string_view> skip = {});

} // namespace promptops::util
