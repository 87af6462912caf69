#pragma once

#include "registry/registry.hpp"

#include <string>

// The prompt an llm_judge renders: a prompt of the registry, or one of the built-in defaults
// (golden/builtin/), which a registry prompt of the same name overrides.
namespace promptops::golden {

// `name` from the registry's work tree when it is there; else the built-in prompt of that
// name (promptops/judge, promptops/judge-pairwise). Throws InputError for a name that is
// neither (with "did you mean") and for a registry prompt that does not load.
registry::ResolvedPrompt load_judge_prompt(const registry::Registry& registry,
                                           const std::string& name);

// The same, from any source (a committed tree), as read at `ref`.
registry::ResolvedPrompt load_judge_prompt(const registry::Source& source, const std::string& ref,
                                           const std::string& name);

} // namespace promptops::golden
