#pragma once

#include "golden/result.hpp"
#include "registry/registry.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
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
  // Empty: providers::ResponseCache::default_dir(), and no cache when it has none. The folder
  // must be private (ResponseCache::check_private), or the run is refused (InputError).
  std::filesystem::path cache_dir;
  std::string resume; // a run id to complete instead of starting a new run
  // --shard i/n: only the cases whose id hashes to share i of n (1-based; 0/0: every case).
  // All of a case's candidates go to the same share; the split depends only on the suite and
  // case id, so n runs on n machines cover every case exactly once.
  int shard_index = 0;
  int shard_count = 0;
  // --prompt NAME@REF: the suites' candidates of prompt NAME run the version at REF instead
  // (e.g. the one staging pins); "" : as the suites say.
  std::string prompt_override;
  // With `resume`: the run must already hold every case (promptops merge): a missing one is
  // an InputError, not a call.
  bool no_calls = false;
  const std::atomic<bool>* stop = nullptr;
  // Called as each case ends: (ended, total) counted over the whole run.
  std::function<void(std::size_t ended, std::size_t total)> on_progress;
  // Called before the first request with what the user should know of, for stderr: "neither
  // HOME nor an absolute XDG_CACHE_HOME is set: the response cache is off".
  std::function<void(const std::string& warning)> on_warning;
};

// A case that did not pass, for the terminal's table.
struct Failure {
  std::string suite;
  std::string provider;
  std::string id;
  std::string status; // fail | error
  std::string reason;
};

// The failure of a case that did not pass (its reason by failure_reason), or std::nullopt
// when it passed.
std::optional<Failure> failure_of(const CaseResult& result);

struct RunOutcome {
  std::string run_id;
  std::filesystem::path dir;
  RunSummary summary; // summary.json
  std::vector<Failure> failures;
  std::size_t requests_sent = 0; // replies not taken from the cache or a resumed run
  std::size_t cached = 0;
  bool interrupted = false;
  int exit_code = 0; // exit_code(summary): 0 gates passed, 1 a gate failed, 3 a case could not run
};

// Runs the tests. Throws InputError(s) for bad suites, cases, prompts or providers (before
// any request is sent), NothingToDoError when no suite or case is selected, RunError when
// the run folder cannot be written.
RunOutcome run_tests(const registry::Registry& registry, const TestOptions& options);

// A new run's id: the UTC time and 64 random bits (the system's random source) in hex,
// "20261207-180102-3fa2c4d5e6f7a8b9": ids sort in the order runs started, and two runs
// started in the same second do not share one.
std::string new_run_id();

// A new run's folder under `runs` (made when missing), named by a new_run_id() that no folder
// has: the folder is made exclusively, and an id taken meanwhile is replaced by another, so a
// run never writes into another's folder (only --resume reopens one). Returns the id; throws
// RunError when the folder cannot be made.
std::string make_run_folder(const std::filesystem::path& runs);

// `promptops merge`: one run made of `run_ids` (the shards of one selection, e.g. from
// `--shard i/n` on n CI jobs): their results joined into a new run, summarised and gated as if
// it had run unsharded. Throws InputError when the runs are not shards of one selection (other
// suites, filters or prompt versions), overlap, or leave a case out; RunError when one did not
// finish. Makes no provider call.
RunOutcome merge_runs(const registry::Registry& registry, const std::vector<std::string>& run_ids);

} // namespace promptops::golden
