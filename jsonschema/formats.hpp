#pragma once

#include <optional>
#include <string_view>

// The "format" checks used when formats are asserted. Internal to the jsonschema module.
namespace promptops::jsonschema::detail {

enum class Format {
  date_time,
  date,
  time,
  duration,
  email,
  idn_email,
  hostname,
  idn_hostname,
  ipv4,
  ipv6,
  uri,
  uri_reference,
  iri,
  iri_reference,
  uri_template,
  uuid,
  regex,
  json_pointer,
  relative_json_pointer,
};

// The format called `name` ("date-time"), or std::nullopt for a format we don't know (those
// are never asserted).
std::optional<Format> parse_format(std::string_view name);

// True when `value` is a valid `format` string.
bool check_format(Format format, std::string_view value);

} // namespace promptops::jsonschema::detail
