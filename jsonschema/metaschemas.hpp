#pragma once

#include <optional>
#include <string_view>

namespace promptops::jsonschema::detail {

// The text of the embedded meta-schema with URI `uri` (no fragment), or std::nullopt. Holds
// the draft-07 meta-schema and the draft 2020-12 meta-schema with its vocabulary schemas.
std::optional<std::string_view> embedded_metaschema(std::string_view uri);

} // namespace promptops::jsonschema::detail
