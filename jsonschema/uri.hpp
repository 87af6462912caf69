#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

// URI and JSON Pointer helpers for resolving "$ref", "$id" and friends. Internal to the
// jsonschema module.
namespace promptops::jsonschema::detail {

// Resolve `reference` against `base` (RFC 3986 section 5.2). An empty `base` leaves
// `reference` as it is (minus dot segments), so schemas without a retrieval URI still work.
std::string resolve_uri(std::string_view base, std::string_view reference);

// True when `uri` starts with a scheme ("http:", "urn:").
bool has_scheme(std::string_view uri);

// `uri` without its fragment ("a#b" gives "a").
std::string_view strip_fragment(std::string_view uri);

// The fragment of `uri` without "#", or std::nullopt when there is no "#".
std::optional<std::string_view> fragment_of(std::string_view uri);

// Decode %XX escapes; std::nullopt when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view text);

// The unescaped reference tokens of JSON Pointer `pointer` ("/a~1b/0" gives {"a/b", "0"}),
// or std::nullopt when it is not a JSON Pointer.
std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer);

// `token` escaped for a JSON Pointer ("a/b" gives "a~1b").
std::string escape_pointer_token(std::string_view token);

} // namespace promptops::jsonschema::detail
