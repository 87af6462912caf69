#pragma once

#include "registry/registry.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

// `promptops test`: every selected suite's cases on every candidate (prompt x provider),
// called concurrently, scored, recorded in .promptops/runs/<run-id>/ as each case ends.
namespace promptops::golden {

struct TestOptions {
  std::vector<std::string> suites;  // names under golden/; empty: every suite
  std::string provider;             // --provider: only the candidates on this provider
  std::vector<std::string> filters; // --filter: a case runs when its id or a tag matches one
  int concurrency = 0;              // > 0: every provider's concurrency
  bool use_cache = true;            // false (--no-cache): ask again, store the new replies
  std::filesystem::path cache_dir;  // empty: $XDG_CACHE_HOME/promptops
  std::string resume;               // a run id to complete instead of starting a new run
  const std::atomic<bool>* stop = nullptr;
  // Called as each case ends: (ended, total) counted over the whole run.
  std::function<void(std::size_t ended, std::size_t total)> on_progress;
};

// A case that did not pass, for the terminal's table.
struct Failure {
  std::string suite;
  std::string provider;
  std::string id;
  std::string status; // fail | error
  std::string reason;
};

struct RunOutcome {
  std::string run_id;
  std::filesystem::path dir;
  nlohmann::ordered_json summary; // summary.json as written
  std::vector<Failure> failures;
  std::size_t requests_sent = 0; // replies not taken from the cache or a resumed run
  std::size_t cached = 0;
  bool interrupted = false;
  int exit_code = 0; // 0 gates passed, 1 a gate failed, 3 a case could not run
};

// Runs the tests. Throws InputError(s) for bad suites, cases, prompts or providers (before
// any request is sent), NothingToDoError when no suite or case is selected, RunError when
// the run folder cannot be written.
RunOutcome run_tests(const registry::Registry& registry, const TestOptions& options);

} // namespace promptops::golden
