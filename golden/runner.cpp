#include "golden/runner.hpp"

#include "golden/results_file.hpp"
#include "golden/run_dispatch.hpp"
#include "golden/run_engine.hpp"
#include "golden/run_plan.hpp"
#include "golden/run_scoring.hpp"
#include "golden/run_tally.hpp"
#include "providers/engine.hpp"
#include "providers/response_cache.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/free_at_exit.hpp"
#include "util/json_fields.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <set>
#include <sys/random.h>
#include <sys/stat.h>

// `promptops test`, its stages in order: plan (run_plan.cpp), dispatch to the call engine
// (run_dispatch.cpp), scoring and the results file (run_scoring.cpp), tally and summary
// (run_tally.cpp). This file drives them and keeps the run's folder.
namespace promptops::golden {
namespace {

using nlohmann::json;

// The time now in UTC, as strftime's `format` writes it.
std::string utc_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char when[32];
  std::strftime(when, sizeof when, format, &tm);
  return when;
}

std::string now_iso() {
  return utc_now("%Y-%m-%dT%H:%M:%SZ");
}

// The selection of the run being resumed, from its run.json.
TestOptions resumed_selection(const registry::Registry& registry, const std::string& run_id,
                              json& record) {
  auto text =
      util::read_file_if_exists(registry.root() / ".promptops" / "runs" / run_id / "run.json");
  if (!text) {
    throw InputError("no run \"" + run_id + "\" in " + registry.display(".promptops/runs") +
                     " to resume");
  }
  record = json::parse(*text, nullptr, false);
  if (!record.is_object()) {
    throw InputError(registry.display(".promptops/runs/" + run_id + "/run.json"), {1, 1},
                     "not a run record (not JSON)");
  }
  TestOptions selection;
  selection.suites = record.value("suites", std::vector<std::string>());
  selection.provider = util::string_field(record, "provider");
  selection.filters = record.value("filters", std::vector<std::string>());
  selection.shard_index = record.value("shard_index", 0);
  selection.shard_count = record.value("shard_count", 0);
  selection.prompt_override = util::string_field(record, "prompt_override");
  return selection;
}

// A new run's folder with its run.json; sets the outcome's id and folder.
void start_run_folder(const RunPlan& plan, const std::filesystem::path& runs, RunOutcome& outcome) {
  outcome.run_id = make_run_folder(runs);
  outcome.dir = runs / outcome.run_id;
  // Keeps runs out of git in a registry that init did not make (once: it is fsynced).
  const std::filesystem::path ignore = outcome.dir.parent_path().parent_path() / ".gitignore";
  if (!std::filesystem::exists(ignore)) {
    util::write_file_atomic(ignore, "*\n");
  }
  util::write_file_atomic(outcome.dir / "run.json",
                          plan.run_record(outcome.run_id, now_iso()).dump(2) + "\n");
}

// The planned cases that `finished` does not hold, in order.
std::vector<std::size_t> cases_to_do(const RunPlan& plan, const std::vector<CaseResult>& finished) {
  std::set<std::string> done;
  for (const auto& r : finished) {
    done.insert(RunPlan::done_key(r.suite, r.provider, r.prompt, r.id));
  }
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < plan.cases().size(); ++i) {
    if (!done.count(plan.done_key(plan.cases()[i]))) {
      todo.push_back(i);
    }
  }
  return todo;
}

class Runner {
public:
  Runner(const registry::Registry& registry, const TestOptions& options,
         providers::EngineFactory engine_factory)
      : m_registry(registry), m_options(options), m_engine_factory(std::move(engine_factory)) {}

  RunOutcome run() {
    RunOutcome outcome;
    const std::filesystem::path runs = m_registry.root() / ".promptops" / "runs";
    json record;
    const bool resuming = !m_options.resume.empty();
    m_plan = std::make_unique<RunPlan>(
        m_registry, resuming ? resumed_selection(m_registry, m_options.resume, record) : m_options);
    std::vector<CaseResult> finished;
    // Before the run's folder: a cache that is refused leaves no run behind.
    const std::unique_ptr<providers::ResponseCache> cache = open_cache();
    if (resuming) {
      outcome.run_id = m_options.resume;
      outcome.dir = runs / outcome.run_id;
      m_plan->check_versions_unchanged(record, m_options.resume);
      finished = read_finished_results(outcome.dir / "results.jsonl");
    } else {
      start_run_folder(*m_plan, runs, outcome);
    }
    std::vector<std::size_t> todo = cases_to_do(*m_plan, finished);
    if (m_options.no_calls && !todo.empty()) {
      const PlannedCase& pc = m_plan->cases()[todo.front()];
      throw InputError("the runs do not cover every case: " + std::to_string(todo.size()) +
                       " are in none of them (the first: \"" + pc.test_case->id + "\" of suite " +
                       m_plan->suites()[pc.suite].suite.name + "); is a shard missing?");
    }
    RunTally tally(*m_plan);
    // Only the totals are kept, not the results: 10,000 lines with their evaluations took
    // 60 MB.
    for (const auto& r : finished) {
      tally.add(r);
    }
    const std::size_t total = finished.size() + todo.size();
    const std::size_t ended =
        call_and_score(outcome, tally, cache.get(), std::move(todo), finished.size(), total);
    finished = {};
    outcome.interrupted = ended < total;
    outcome.failures = std::move(tally.failures());
    const RunSummary summary = tally.summarize(
        {outcome.run_id, outcome.interrupted, outcome.requests_sent, outcome.cached, now_iso()});
    outcome.exit_code = exit_code(summary);
    util::write_file_atomic(outcome.dir / "summary.json", to_json(summary).dump(2) + "\n");
    outcome.summary = summary;
    return outcome;
  }

private:
  // The response cache, or none: a run that makes no call (promptops merge) needs none, and
  // without HOME there is no private place for it. Throws InputError when it is not private.
  std::unique_ptr<providers::ResponseCache> open_cache() const {
    if (m_options.no_calls) {
      return nullptr;
    }
    std::optional<std::filesystem::path> dir = m_options.cache_dir;
    if (dir->empty()) {
      dir = providers::ResponseCache::default_dir();
    }
    if (!dir) {
      if (m_options.on_warning) {
        m_options.on_warning(std::string(providers::ResponseCache::k_no_default_dir) +
                             ": the response cache is off");
      }
      return nullptr;
    }
    return std::make_unique<providers::ResponseCache>(*dir);
  }

  // The cases of `todo` called, scored and written; returns how many of `total` have ended.
  std::size_t call_and_score(RunOutcome& outcome, RunTally& tally,
                             const providers::ResponseCache* cache, std::vector<std::size_t> todo,
                             std::size_t ended, std::size_t total) {
    if (m_options.on_progress) {
      m_options.on_progress(ended, total);
    }
    ResultsFile results(outcome.dir / "results.jsonl");
    CaseScorer scorer(*m_plan, results, tally);
    // Closed before the results file goes: every case queued is written.
    ScoringThread scoring([&scorer](EndedCase& c) { scorer.score(c); });
    Dispatcher dispatch(*m_plan, scoring, m_options.on_progress, ended, total);
    providers::EngineOptions engine_options;
    engine_options.cache = cache;
    engine_options.read_cache = m_options.use_cache;
    engine_options.concurrency_override = m_options.concurrency;
    engine_options.stop = m_options.stop;
    engine_options.on_done = [&dispatch](std::size_t job, const providers::Reply& reply) {
      dispatch.job_done(job, reply);
    };
    {
      const std::unique_ptr<providers::Engine> engine = m_engine_factory(engine_options);
      dispatch.start(*engine, std::move(todo), engine_window(*m_plan, m_options.concurrency));
      engine->run();
    }
    scoring.close();
    scoring.rethrow_if_failed();
    outcome.requests_sent = dispatch.requests_sent();
    outcome.cached = dispatch.cached();
    return dispatch.ended();
  }

  const registry::Registry& m_registry;
  const TestOptions& m_options;
  providers::EngineFactory m_engine_factory;
  std::unique_ptr<RunPlan> m_plan;
};

} // namespace

std::string new_run_id() {
  std::uint64_t bits = 0;
  if (::getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) {
    std::random_device rd; // getrandom(2) fails only without the call (old kernels)
    bits = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, "-%016llx", static_cast<unsigned long long>(bits));
  return utc_now("%Y%m%d-%H%M%S") + suffix;
}

std::string make_run_folder(const std::filesystem::path& runs) {
  std::error_code ec;
  std::filesystem::create_directories(runs, ec); // its own failure shows in mkdir's
  for (int attempt = 1;; ++attempt) {
    std::string id = new_run_id();
    const std::filesystem::path dir = runs / id;
    // mkdir, not create_directories: an existing folder is a failure, never reused.
    if (::mkdir(dir.c_str(), 0777) == 0) {
      return id;
    }
    if (errno != EEXIST || attempt == 10) {
      throw RunError("cannot create " + dir.string() + ": " + std::strerror(errno));
    }
  }
}

std::optional<Failure> failure_of(const CaseResult& result) {
  if (result.status == CaseStatus::pass) {
    return std::nullopt;
  }
  return Failure{result.suite, result.provider, result.id, to_string(result.status),
                 failure_reason(result)};
}

RunOutcome run_tests(const registry::Registry& registry, const TestOptions& options,
                     const providers::EngineFactory& engine_factory) {
  auto runner = std::make_unique<Runner>(registry, options, engine_factory);
  RunOutcome outcome = runner->run();
  // The plan, the baselines and the fingerprints of a big run take a fraction of a second to
  // free, just before the command ends; run() has closed the results file and joined its
  // threads.
  util::free_at_exit(std::move(runner));
  return outcome;
}

RunOutcome run_tests(const registry::Registry& registry, const TestOptions& options) {
  return run_tests(registry, options, [](const providers::EngineOptions& engine_options) {
    return std::make_unique<providers::CallEngine>(engine_options);
  });
}

} // namespace promptops::golden
