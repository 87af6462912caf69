#pragma once

#include "golden/runner.hpp"
#include "providers/engine.hpp"

// The seam of `promptops test`: run_tests with the call engine it is given, so that the runner
// can be driven in-process by a fake engine (tests/unit/test_golden_runner.cpp).
namespace promptops::golden {

RunOutcome run_tests(const registry::Registry& registry, const TestOptions& options,
                     const providers::EngineFactory& engine_factory);

} // namespace promptops::golden
