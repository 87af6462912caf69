#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

// JSON value semantics JSON Schema asks for (1 == 1.0, integer-valued floats are integers)
// and the rendering of values in messages. Internal to the jsonschema module.
namespace promptops::jsonschema::detail {

// JSON Schema equality: numbers compare by value across integer and float representations,
// arrays by element, objects by member.
bool json_equal(const nlohmann::json& a, const nlohmann::json& b);

// A hash consistent with json_equal.
std::size_t json_hash(const nlohmann::json& value);

// Negative, zero or positive as number `a` is less than, equal to or greater than number `b`.
int compare_numbers(const nlohmann::json& a, const nlohmann::json& b);

// True for integers and for floats with an integral value (1.0).
bool is_integer_value(const nlohmann::json& value);

// True when number `value` is a multiple of the positive number `divisor`. Floats are
// compared with a tolerance of a few ulps so 0.0075 is a multiple of 0.0001.
bool is_multiple_of(const nlohmann::json& value, const nlohmann::json& divisor);

// The length of UTF-8 `text` in code points.
std::size_t utf8_length(std::string_view text);

// `value` written JSON-style for a message ("12.5", "\"bogus\"", "[\"a\", \"b\"]"),
// shortened with "..." when long.
std::string describe(const nlohmann::json& value);

// `text` as a quoted JSON string, shortened with "..." when long.
std::string quote(std::string_view text);

} // namespace promptops::jsonschema::detail
