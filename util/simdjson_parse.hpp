#pragma once

#include <simdjson.h>
#include <string_view>

// simdjson's DOM parser, as promptops uses it for big or many JSON texts (result lines,
// baselines, the JSON inside outputs). Modules that include this link simdjson::simdjson.
namespace promptops::util {

// `text` parsed by this thread's parser, reused with its padded buffer so that most texts parse
// without an allocation. `out` lives until this thread's next call.
simdjson::error_code parse_reused(std::string_view text, simdjson::dom::element& out);

// Whether simdjson refused `text` only for a number it cannot hold (an integer over 64 bits)
// that nlohmann's parser takes: the caller parses such a text with nlohmann instead, so that
// both parsers accept the same texts.
inline bool for_nlohmann(simdjson::error_code error) {
  return error == simdjson::NUMBER_ERROR || error == simdjson::NUMBER_OUT_OF_RANGE;
}

} // namespace promptops::util
