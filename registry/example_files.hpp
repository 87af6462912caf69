#pragma once

#include "util/embedded_file.hpp"

#include <vector>

namespace promptops::registry {

// The files of examples/support, which `promptops init` writes: one example, kept in one
// place, that the demo runs and the tests check.
const std::vector<util::EmbeddedFile>& example_files();

} // namespace promptops::registry
