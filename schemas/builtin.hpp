#pragma once

#include "util/embedded_file.hpp"

#include <vector>

namespace promptops::schemas {

// The JSON Schemas of promptops's own file formats, carried in the binary; each path is the
// schema's file name ("prompt.schema.json"), in file-name order.
const std::vector<util::EmbeddedFile>& builtin_schemas();

} // namespace promptops::schemas
