#pragma once

#include "util/embedded_file.hpp"

#include <vector>

namespace promptops::golden {

// The built-in judge prompts and their verdict schemas (golden/builtin/), carried in the
// binary; each path is as in a registry ("prompts/promptops/judge.yaml").
const std::vector<util::EmbeddedFile>& builtin_judge_files();

} // namespace promptops::golden
