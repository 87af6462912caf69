#include "golden/runner.hpp"

#include "evaluators/evaluator.hpp"
#include "evaluators/judge.hpp"
#include "golden/baseline.hpp"
#include "golden/compare.hpp"
#include "golden/drift.hpp"
#include "golden/fingerprint.hpp"
#include "golden/judge_prompt.hpp"
#include "golden/schema_options.hpp"
#include "golden/suite.hpp"
#include "jsonschema/validator.hpp"
#include "providers/engine.hpp"
#include "providers/response_cache.hpp"
#include "registry/render.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/free_at_exit.hpp"
#include "util/json_fields.hpp"
#include "util/json_pointer.hpp"
#include "util/json_write.hpp"
#include "util/lines.hpp"
#include "util/suggest.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <fcntl.h>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace promptops::golden {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using providers::ProviderRuntime;
namespace judge = evaluators::judge;

// Cases given to the engine and not yet written, at least: far above a provider's usual
// concurrency (it grows to four times the largest), far below a large suite.
constexpr std::size_t k_cases_in_flight = 1024;
// Ended cases waiting for the scoring thread; the engine's thread waits when it is this far
// ahead.
constexpr std::size_t k_cases_to_score = 1024;

// One suite with everything a run needs, checked before any request is sent.
struct PlannedCandidate {
  const registry::ResolvedPrompt* prompt = nullptr;
  const ProviderRuntime* provider = nullptr;
  std::string label; // "support/classify@prod on default"
  // golden/baselines/<suite>/<provider>.jsonl: what the run is compared with and pairwise
  // judges compare against (null: the suite has no baseline on this provider).
  const Baseline* baseline = nullptr;
};

// One llm_judge entry, ready to ask: its options, its prompt and its provider.
struct PlannedJudge {
  judge::Options options;
  const registry::ResolvedPrompt* prompt = nullptr;
  const ProviderRuntime* provider = nullptr;
};

struct PlannedSuite {
  Suite suite;
  std::vector<Case> cases;
  std::vector<PlannedCandidate> candidates;
};

struct PlannedCase {
  std::size_t suite = 0;
  std::size_t candidate = 0;
  const Case* test_case = nullptr;
  // The suite's evaluators, then the case's: one array shared by the suite's cases that add
  // none (a copy per case was 2.5 KB each, a quarter of a 100,000-case run's memory).
  std::shared_ptr<const nlohmann::json> evaluator_list;
  const nlohmann::json& evaluators() const { return *evaluator_list; }
  // Per evaluator, its judge when it is an llm_judge; empty when the case has none.
  std::vector<const PlannedJudge*> judges;
};

// What a case's judge calls cost, apart from the candidate's.
struct JudgeStats {
  std::size_t calls = 0;
  std::size_t requests = 0; // sent (attempts), not taken from the cache
  std::size_t cached = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost = 0;
  bool any_cost = false;

  void add(const providers::Reply& reply, bool real_call) {
    ++calls;
    if (reply.cached) {
      ++cached;
    } else if (real_call) {
      requests += static_cast<std::size_t>(reply.attempts);
    }
    input_tokens += reply.usage.input_tokens.value_or(0);
    output_tokens += reply.usage.output_tokens.value_or(0);
    if (reply.cost) {
      cost += *reply.cost;
      any_cost = true;
    }
  }
};

ordered_json judge_stats_json(const JudgeStats& j) {
  ordered_json o;
  o["calls"] = j.calls;
  o["requests"] = j.requests;
  o["cached"] = j.cached;
  ordered_json usage;
  usage["input_tokens"] = j.input_tokens;
  usage["output_tokens"] = j.output_tokens;
  o["usage"] = std::move(usage);
  o["cost"] = j.any_cost ? ordered_json(j.cost) : ordered_json(nullptr);
  return o;
}

// A case whose candidate answered and whose judges are still out.
struct CaseInFlight {
  providers::Reply reply;
  std::vector<evaluators::Evaluation> evaluations; // per evaluator; judged ones at the end
  std::map<std::size_t, std::vector<judge::Answer>> answers; // evaluator -> judge answers
  std::size_t pending = 0;
  JudgeStats judge;
};

// What a job of the engine is for.
struct JobTag {
  std::size_t planned = 0; // the case, an index into the planned cases
  long slot = -1;          // -1: the candidate's call; else the evaluator it judges for
  std::size_t answer = 0;  // which of that judge's answers
  bool real_call = false;  // a provider call (not echo or replay)
};

std::string done_key(const std::string& suite, const std::string& provider,
                     const std::string& prompt, const std::string& id) {
  return suite + '\x1f' + provider + '\x1f' + prompt + '\x1f' + id;
}

std::string new_run_id() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(rd() & 0xffff));
  return std::string(stamp) + "-" + suffix;
}

std::string now_iso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return when;
}

bool case_selected(const Case& c, const std::vector<std::string>& filters) {
  if (filters.empty()) {
    return true;
  }
  for (const auto& f : filters) {
    if (c.id == f) {
      return true;
    }
    if (c.tags.is_array()) {
      for (const auto& t : c.tags) {
        if (t.is_string() && t.get<std::string>() == f) {
          return true;
        }
      }
    }
  }
  return false;
}

// results.jsonl, appended one whole line per write so that a run killed at any moment leaves
// every finished case readable (at worst, a last partial line that --resume drops).
class ResultsFile {
public:
  explicit ResultsFile(const std::filesystem::path& path) : m_path(path) {
    m_fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0) {
      throw RunError("cannot write " + path.string() + ": " + std::strerror(errno));
    }
  }
  ~ResultsFile() {
    if (m_fd >= 0) {
      ::fsync(m_fd);
      ::close(m_fd);
    }
  }
  ResultsFile(const ResultsFile&) = delete;
  ResultsFile& operator=(const ResultsFile&) = delete;

  void append(const std::string& line) {
    if (!util::write_all(m_fd, line + "\n")) {
      throw RunError("cannot write " + m_path.string() + ": " + std::strerror(errno));
    }
  }

private:
  std::filesystem::path m_path;
  int m_fd = -1;
};

// The lines of a results.jsonl already written; a last line cut short by a kill is dropped
// from the file so that appending continues on a line boundary.
std::vector<ordered_json> read_finished_results(const std::filesystem::path& path) {
  std::vector<ordered_json> out;
  auto text = util::read_file_if_exists(path);
  if (!text) {
    return out;
  }
  const std::size_t last_newline = text->rfind('\n');
  const std::size_t keep = last_newline == std::string::npos ? 0 : last_newline + 1;
  if (keep != text->size()) {
    std::filesystem::resize_file(path, keep);
    text->resize(keep);
  }
  util::for_each_line(*text, [&out](std::size_t, std::string_view line) {
    ordered_json j = ordered_json::parse(line, nullptr, false);
    if (j.is_object()) {
      out.push_back(std::move(j));
    }
  });
  return out;
}

std::string first_failed_reason(const ordered_json& result) {
  // `report` reads stored lines a person may have edited: members of another type are ignored.
  if (util::string_field(result, "status") == "error") {
    const auto error = result.find("error");
    return error != result.end() && error->is_string() ? error->get<std::string>()
                                                       : std::string("the provider failed");
  }
  const auto evaluations = result.find("evaluations");
  if (evaluations != result.end() && evaluations->is_array()) {
    for (const auto& e : *evaluations) {
      // true when missing or not a boolean, as value(key, true) read it for well-formed lines
      const auto flag = [&e](const char* key) {
        const auto it = e.find(key);
        return it == e.end() || !it->is_boolean() || it->get<bool>();
      };
      if (e.is_object() && !flag("pass") && flag("required")) {
        return util::string_field(e, "type") + ": " + util::string_field(e, "reason");
      }
    }
  }
  return {};
}

class Runner {
public:
  Runner(const registry::Registry& registry, const TestOptions& options)
      : m_registry(registry), m_options(options) {}

  RunOutcome run() {
    RunOutcome outcome;
    std::filesystem::path runs = m_registry.root() / ".promptops" / "runs";
    json run_record;
    std::vector<ordered_json> finished;
    if (!m_options.resume.empty()) {
      outcome.run_id = m_options.resume;
      outcome.dir = runs / m_options.resume;
      auto text = util::read_file_if_exists(outcome.dir / "run.json");
      if (!text) {
        throw InputError("no run \"" + m_options.resume + "\" in " +
                         m_registry.display(".promptops/runs") + " to resume");
      }
      run_record = json::parse(*text, nullptr, false);
      if (!run_record.is_object()) {
        throw InputError(m_registry.display(".promptops/runs/" + m_options.resume + "/run.json"),
                         {1, 1}, "not a run record (not JSON)");
      }
      m_selection.suites = run_record.value("suites", std::vector<std::string>());
      m_selection.provider = util::string_field(run_record, "provider");
      m_selection.filters = run_record.value("filters", std::vector<std::string>());
      m_selection.shard_index = run_record.value("shard_index", 0);
      m_selection.shard_count = run_record.value("shard_count", 0);
      m_selection.prompt_override = util::string_field(run_record, "prompt_override");
    } else {
      m_selection = m_options;
    }

    plan();
    if (!m_options.resume.empty()) {
      check_versions_unchanged(run_record);
      finished = read_finished_results(outcome.dir / "results.jsonl");
    } else {
      outcome.run_id = new_run_id();
      outcome.dir = runs / outcome.run_id;
      std::error_code ec;
      std::filesystem::create_directories(outcome.dir, ec);
      if (ec) {
        throw RunError("cannot create " + outcome.dir.string() + ": " + ec.message());
      }
      // Keeps runs out of git in a registry that init did not make (once: it is fsynced).
      if (!std::filesystem::exists(runs.parent_path() / ".gitignore")) {
        util::write_file_atomic(runs.parent_path() / ".gitignore", "*\n");
      }
      util::write_file_atomic(outcome.dir / "run.json", run_json(outcome.run_id).dump(2) + "\n");
    }

    // What is left to do.
    std::set<std::string> done;
    for (const auto& r : finished) {
      done.insert(done_key(r.value("suite", ""), r.value("provider", ""), r.value("prompt", ""),
                           r.value("id", "")));
    }
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < m_cases.size(); ++i) {
      const PlannedCase& pc = m_cases[i];
      const PlannedCandidate& cand = m_suites[pc.suite].candidates[pc.candidate];
      if (!done.count(done_key(m_suites[pc.suite].suite.name, cand.provider->settings.name,
                               cand.prompt->prompt.name, pc.test_case->id))) {
        todo.push_back(i);
      }
    }

    if (m_options.no_calls && !todo.empty()) {
      const PlannedCase& pc = m_cases[todo.front()];
      throw InputError("the runs do not cover every case: " + std::to_string(todo.size()) +
                       " are in none of them (the first: \"" + pc.test_case->id + "\" of suite " +
                       m_suites[pc.suite].suite.name + "); is a shard missing?");
    }
    std::unique_ptr<providers::ResponseCache> cache;
    cache = std::make_unique<providers::ResponseCache>(m_options.cache_dir.empty()
                                                           ? providers::ResponseCache::default_dir()
                                                           : m_options.cache_dir);

    ResultsFile results(outcome.dir / "results.jsonl");
    // Only the totals are kept, not the lines: 10,000 lines with their evaluations took
    // 60 MB.
    for (const auto& line : finished) {
      tally(line, outcome);
    }
    m_total = finished.size() + todo.size();
    m_ended = finished.size();
    m_results = &results;
    m_outcome = &outcome;
    if (m_options.on_progress) {
      m_options.on_progress(m_ended, m_total);
    }

    providers::EngineOptions engine_options;
    engine_options.cache = cache.get();
    engine_options.read_cache = m_options.use_cache;
    engine_options.concurrency_override = m_options.concurrency;
    engine_options.stop = m_options.stop;
    engine_options.on_done = [this](std::size_t job, const providers::Reply& reply) {
      job_done(job, reply);
    };
    {
      providers::CallEngine engine(engine_options);
      m_engine = &engine;
      // Declared after the engine, so ended first: every case queued is written before the
      // engine and the results file go.
      const ScoringThread scoring(*this);
      // Cases enter the engine a window at a time, the next as one is written: a fast
      // candidate (echo, the cache) would otherwise run far ahead of slow judges and hold
      // every case's output and judge requests in memory at once.
      m_todo = std::move(todo);
      std::size_t window = k_cases_in_flight;
      for (const auto& [_, p] : m_providers) {
        const int c = m_options.concurrency > 0 ? m_options.concurrency : p->settings.concurrency;
        window = std::max(window, 4 * static_cast<std::size_t>(std::max(c, 1)));
      }
      while (m_next_todo < m_todo.size() && m_next_todo < window) {
        add_next_case();
      }
      engine.run();
      m_engine = nullptr;
    }
    if (m_score_error) {
      std::rethrow_exception(m_score_error);
    }
    const std::size_t ended = m_ended;
    const std::size_t total = m_total;
    outcome.interrupted = ended < total;

    summarize(outcome);
    util::write_file_atomic(outcome.dir / "summary.json", outcome.summary.dump(2) + "\n");
    return outcome;
  }

private:
  void plan() {
    const registry::Config& config = m_registry.config();
    registry::PromptRef override_ref;
    if (!m_selection.prompt_override.empty()) {
      override_ref = registry::parse_prompt_ref(m_selection.prompt_override);
      const auto prompts = m_registry.prompt_names();
      if (std::find(prompts.begin(), prompts.end(), override_ref.name) == prompts.end()) {
        throw InputError("--prompt: unknown prompt \"" + override_ref.name + "\"" +
                         util::did_you_mean(override_ref.name, prompts));
      }
    }
    const auto available = suite_names_from_paths(m_registry.work_tree().list("golden", ".yaml"));
    std::vector<std::string> names = m_selection.suites;
    if (names.empty()) {
      names = available;
    }
    std::vector<InputError> errors;
    for (auto& name : names) {
      // Accept "classify", "golden/classify" and "golden/classify.yaml".
      if (name.rfind("golden/", 0) == 0) {
        name = name.substr(7);
      }
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".yaml") == 0) {
        name.resize(name.size() - 5);
      }
      if (std::find(available.begin(), available.end(), name) == available.end()) {
        errors.emplace_back("unknown suite \"" + name + "\"" + util::did_you_mean(name, available) +
                            (available.empty() ? " (golden/ has no suite)" : ""));
      }
    }
    throw_if_any(std::move(errors));
    if (names.empty()) {
      throw NothingToDoError("nothing to test: " + m_registry.display("golden") +
                             " has no suite (golden/<name>.yaml)");
    }

    m_suites.reserve(names.size());
    for (const auto& name : names) {
      const std::string path = "golden/" + name + ".yaml";
      const std::string shown = m_registry.display(path);
      PlannedSuite ps;
      ps.suite = parse_suite(name, *m_registry.work_tree().read(path), path, shown, config);
      const std::string cases_shown = m_registry.display(ps.suite.cases_path);
      auto text = m_registry.work_tree().read(ps.suite.cases_path);
      if (!text) {
        throw InputError(shown, ps.suite.cases_position,
                         "cases file " + cases_shown + " does not exist");
      }
      CaseFile cases = parse_cases(*text, cases_shown);
      throw_if_any(std::move(cases.errors));
      for (auto& c : cases.cases) {
        if (case_selected(c, m_selection.filters) && in_shard(name, c.id)) {
          ps.cases.push_back(std::move(c));
        }
      }
      for (Candidate candidate : ps.suite.candidates) {
        if (!override_ref.name.empty() && candidate.prompt.name == override_ref.name) {
          candidate.prompt.ref = override_ref.ref;
        }
        PlannedCandidate pc;
        pc.prompt = &resolve(candidate, shown);
        std::string provider = candidate.provider;
        if (provider.empty()) {
          provider = pc.prompt->prompt.provider.empty() ? "default" : pc.prompt->prompt.provider;
        }
        if (!m_selection.provider.empty() && provider != m_selection.provider) {
          continue;
        }
        const registry::ProviderConfig* pconf = config.find_provider(provider);
        if (pconf == nullptr) {
          throw InputError(shown, candidate.position,
                           "no provider for prompt \"" + candidate.prompt.name +
                               "\": list it under \"providers:\", give the prompt a "
                               "\"provider:\", or define a provider named \"default\"");
        }
        pc.provider = &runtime(*pconf);
        pc.label = candidate.prompt.name +
                   (candidate.prompt.ref.empty() ? "" : "@" + candidate.prompt.ref) + " on " +
                   provider;
        pc.baseline = baseline_of(name, pc.provider->settings.name);
        ps.candidates.push_back(pc);
      }
      m_suites.push_back(std::move(ps));
    }
    if (!m_selection.provider.empty() && !config.find_provider(m_selection.provider)) {
      throw InputError("unknown provider \"" + m_selection.provider + "\"" +
                       util::did_you_mean(m_selection.provider, config.provider_names()) +
                       " (providers are defined in " + config.display_path + ")");
    }

    // Every case on every candidate, rendered and its evaluators checked before the first
    // request: a typo found after ten minutes of calls wastes them.
    for (std::size_t s = 0; s < m_suites.size(); ++s) {
      PlannedSuite& ps = m_suites[s];
      std::vector<const PlannedJudge*> suite_judges;
      for (std::size_t i = 0; i < ps.suite.evaluators.size(); ++i) {
        const SourcePosition p =
            ps.suite.source_map.value_position(util::pointer_append("/evaluators", i));
        const std::string where =
            ps.suite.display_path + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
        evaluators::check_spec(ps.suite.evaluators[i], where);
        suite_judges.push_back(plan_judge(ps.suite.evaluators[i], where, ps));
      }
      const std::string cases_shown = m_registry.display(ps.suite.cases_path);
      const auto suite_evals = std::make_shared<const json>(ps.suite.evaluators);
      for (const auto& c : ps.cases) {
        std::shared_ptr<const json> evals = suite_evals;
        std::vector<const PlannedJudge*> judges = suite_judges;
        if (c.evaluators.is_array() && !c.evaluators.empty()) {
          json own = ps.suite.evaluators;
          for (const auto& e : c.evaluators) {
            const std::string where = cases_shown + ":" + std::to_string(c.line);
            evaluators::check_spec(e, where);
            judges.push_back(plan_judge(e, where, ps));
            own.push_back(e);
          }
          evals = std::make_shared<const json>(std::move(own));
        }
        if (std::all_of(judges.begin(), judges.end(), [](auto* j) { return j == nullptr; })) {
          judges.clear();
        }
        for (std::size_t k = 0; k < ps.candidates.size(); ++k) {
          m_cases.push_back({s, k, &c, evals, judges});
        }
      }
    }
    if (m_cases.empty()) {
      throw NothingToDoError(m_selection.filters.empty() && m_selection.provider.empty()
                                 ? "nothing to test: the selected suites have no cases"
                                 : "nothing to test: no case matched the --filter and "
                                   "--provider given");
    }
    // Every case is rendered now, so that a template error stops the run before any call; the
    // request is rendered again when its case starts. Keeping 100,000 rendered requests cost
    // 3 KB a case, and freeing them one by one left the heap fragmented for the whole run.
    std::vector<InputError> render_errors;
    for (std::size_t i = 0; i < m_cases.size(); ++i) {
      try {
        make_request(m_cases[i]);
      } catch (const InputError& e) {
        render_errors.push_back(e);
      }
      if (render_errors.size() >= 20) {
        break;
      }
    }
    throw_if_any(std::move(render_errors));
  }

  // The judge of an llm_judge entry (null for any other type): its provider, its prompt (whose
  // variables it must be able to fill) and, when pairwise, the baselines of the suite's
  // candidates. Throws InputError at `where`.
  const PlannedJudge* plan_judge(const json& spec, const std::string& where, PlannedSuite& ps) {
    if (util::string_field(spec, "type") != "llm_judge") {
      return nullptr;
    }
    judge::Options options = judge::read_options(spec);
    const registry::Config& config = m_registry.config();
    const registry::ProviderConfig* provider = config.find_provider(options.provider);
    if (provider == nullptr) {
      throw InputError(where, {},
                       "unknown judge provider \"" + options.provider + "\"" +
                           util::did_you_mean(options.provider, config.provider_names()) +
                           " (providers are defined in " + config.display_path + ")");
    }
    const std::string prompt_name =
        options.prompt.empty() ? judge::default_prompt_name(options.pairwise) : options.prompt;
    auto prompt_it = m_judge_prompts.find(prompt_name);
    if (prompt_it == m_judge_prompts.end()) {
      std::unique_ptr<registry::ResolvedPrompt> loaded;
      try {
        loaded =
            std::make_unique<registry::ResolvedPrompt>(load_judge_prompt(m_registry, prompt_name));
      } catch (const InputError& e) {
        if (e.path().empty()) {
          throw InputError(where, {}, e.problem());
        }
        throw;
      }
      prompt_it = m_judge_prompts.emplace(prompt_name, std::move(loaded)).first;
    }
    const registry::ResolvedPrompt& prompt = *prompt_it->second;
    const std::vector<std::string> given =
        options.pairwise
            ? std::vector<std::string>{"rubric", "output_a", "output_b",
                                       "input",  "expected", "vars"}
            : std::vector<std::string>{"rubric", "output", "input", "expected", "vars"};
    for (const auto& v : prompt.prompt.required) {
      if (std::find(given.begin(), given.end(), v.name) == given.end()) {
        std::string list;
        for (const auto& g : given) {
          list += (list.empty() ? "" : ", ") + g;
        }
        throw InputError(where, {},
                         "judge prompt \"" + prompt_name + "\" requires variable \"" + v.name +
                             "\", which llm_judge does not give (it gives " + list + ")");
      }
    }
    if (options.pairwise) {
      for (const auto& cand : ps.candidates) {
        if (cand.baseline == nullptr) {
          throw InputError(
              where, {},
              "llm_judge with pairwise: true compares with the baseline, but " +
                  m_registry.display(baseline_path(ps.suite.name, cand.provider->settings.name)) +
                  " does not exist (a baseline line is {\"id\": ..., \"output\": "
                  "...}; promptops baseline record writes one)");
        }
      }
    }
    auto planned = std::make_unique<PlannedJudge>();
    planned->options = std::move(options);
    planned->prompt = &prompt;
    planned->provider = &runtime(*provider);
    m_planned_judges.push_back(std::move(planned));
    return m_planned_judges.back().get();
  }

  // The baseline of `suite` on `provider`, loaded once; null when there is none.
  const Baseline* baseline_of(const std::string& suite, const std::string& provider) {
    const std::string path = baseline_path(suite, provider);
    auto it = m_baselines.find(path);
    if (it == m_baselines.end()) {
      auto loaded = load_baseline(m_registry, suite, provider);
      it = m_baselines
               .emplace(path, loaded ? std::make_unique<Baseline>(std::move(*loaded)) : nullptr)
               .first;
      if (Baseline* b = it->second.get()) {
        // The fingerprints of the baseline's outputs (for drift) are made on another core
        // while the run calls its providers. This thread reads other members of the cases
        // meanwhile, and `print` only after summarize() has waited for them.
        m_baseline_prints.push_back(std::async(std::launch::async, [b] {
          for (auto& [id, c] : b->cases) {
            if (!c.print) {
              c.print = fingerprint(c.output);
            }
          }
        }));
      }
    }
    return it->second.get();
  }

  bool in_shard(const std::string& suite, const std::string& id) const {
    if (m_selection.shard_count <= 1) {
      return true;
    }
    // FNV-1a: the same share on every machine and build (std::hash promises neither).
    std::uint64_t h = 1469598103934665603ULL;
    for (const char ch : suite + '\0' + id) {
      h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
    }
    return static_cast<int>(h % static_cast<std::uint64_t>(m_selection.shard_count)) ==
           m_selection.shard_index - 1;
  }

  const registry::ResolvedPrompt& resolve(const Candidate& candidate, const std::string& shown) {
    const std::string key = candidate.prompt.name + "@" + candidate.prompt.ref;
    auto it = m_prompts.find(key);
    if (it != m_prompts.end()) {
      return *it->second;
    }
    try {
      auto resolved =
          std::make_unique<registry::ResolvedPrompt>(m_registry.resolve(candidate.prompt));
      return *m_prompts.emplace(key, std::move(resolved)).first->second;
    } catch (const InputError& e) {
      if (e.path().empty()) {
        throw InputError(shown, candidate.position, e.problem());
      }
      throw;
    }
  }

  const ProviderRuntime& runtime(const registry::ProviderConfig& config) {
    auto it = m_providers.find(config.name);
    if (it != m_providers.end()) {
      return *it->second;
    }
    auto rt = std::make_unique<ProviderRuntime>();
    rt->settings = providers::settings_from_config(config, m_registry.config());
    rt->workdir = m_registry.root();
    if (rt->settings.type == "replay") {
      const std::filesystem::path from = rt->settings.from;
      const std::filesystem::path file = from.is_absolute() ? from : m_registry.root() / from;
      rt->replay = providers::load_replay(file, m_registry.display(rt->settings.from), "");
    }
    return *m_providers.emplace(config.name, std::move(rt)).first->second;
  }

  std::string case_context(const PlannedCase& pc) const {
    return "case \"" + pc.test_case->id + "\" in " +
           m_registry.display(m_suites[pc.suite].suite.cases_path) + ":" +
           std::to_string(pc.test_case->line);
  }

  providers::Request make_request(const PlannedCase& pc) const {
    const PlannedCandidate& cand = m_suites[pc.suite].candidates[pc.candidate];
    return render_request(*cand.prompt, *cand.provider, pc.test_case->vars, case_context(pc),
                          pc.test_case->id);
  }

  // `prompt` rendered with `vars` as a call to `provider`: the provider's params overridden by
  // the prompt's, the prompt's model unless it has none. Throws InputError.
  // The prompt's output schema parsed once for all its requests; null when it is not JSON.
  std::shared_ptr<const json> parsed_output_schema(const registry::ResolvedPrompt& prompt) const {
    auto [it, added] = m_output_schemas.try_emplace(&prompt);
    if (added) {
      json schema = json::parse(*prompt.output_schema, nullptr, false);
      if (!schema.is_discarded()) {
        it->second = std::make_shared<const json>(std::move(schema));
      }
    }
    return it->second;
  }

  providers::Request render_request(const registry::ResolvedPrompt& prompt,
                                    const ProviderRuntime& provider, const json& vars,
                                    const std::string& context, const std::string& case_id) const {
    const registry::RenderedPrompt rendered =
        registry::render_prompt(prompt, m_registry.config(), vars, context);
    providers::Request r;
    r.case_id = case_id;
    if (rendered.kind == registry::PromptKind::text) {
      r.messages.push_back({"user", rendered.text});
    } else {
      for (const auto& m : rendered.messages) {
        r.messages.push_back({m.role, m.content});
      }
    }
    const providers::ProviderSettings& settings = provider.settings;
    const registry::Prompt& p = prompt.prompt;
    r.model = p.model.empty() ? settings.model : p.model;
    r.params = settings.params.is_object() ? settings.params : json::object();
    if (p.params.is_object()) {
      r.params.update(p.params);
    }
    if (prompt.output_schema) {
      r.output_schema = parsed_output_schema(prompt);
      // response_format's name allows [a-zA-Z0-9_-] only: "support/classify" would be refused.
      r.output_schema_name = p.name;
      std::replace(r.output_schema_name.begin(), r.output_schema_name.end(), '/', '_');
    }
    return r;
  }

  providers::Job make_job(std::size_t index) {
    const PlannedCase& pc = m_cases[index];
    const PlannedCandidate& cand = m_suites[pc.suite].candidates[pc.candidate];
    providers::Request request = make_request(pc);
    if (!pc.judges.empty() && !request.messages.empty()) {
      m_inputs[index] = request.messages.back().content; // the judges' "input"
    }
    return job_for(*cand.provider, std::move(request));
  }

  static providers::Job job_for(const ProviderRuntime& provider, providers::Request request) {
    providers::Job job;
    job.provider = &provider;
    job.request = std::move(request);
    const std::string& type = provider.settings.type;
    if (type != "echo" && type != "replay") {
      job.cache_key = providers::cache_key(provider.settings, job.request);
    }
    return job;
  }

  void add_next_case() {
    const std::size_t i = m_todo[m_next_todo++];
    add_job(make_job(i), {i, -1, 0, false});
  }

  void add_job(providers::Job job, JobTag tag) {
    tag.real_call = !job.cache_key.empty();
    const std::size_t index = m_engine->add(std::move(job));
    if (m_tags.size() <= index) {
      m_tags.resize(index + 1);
    }
    m_tags[index] = tag;
  }

  // A call ended: a candidate's (score it, and ask its judges) or a judge's (when it was the
  // case's last, score the judges and write the case).
  void job_done(std::size_t job, const providers::Reply& reply) {
    if (m_score_failed.load()) {
      std::rethrow_exception(m_score_error); // the results could not be written: stop the run
    }
    const JobTag tag = m_tags[job];
    const PlannedCase& pc = m_cases[tag.planned];
    if (tag.slot < 0) {
      if (reply.cached) {
        ++m_outcome->cached;
      } else if (tag.real_call) {
        m_outcome->requests_sent += static_cast<std::size_t>(reply.attempts);
      }
      CaseInFlight flight;
      flight.reply = reply;
      if (reply.ok && !pc.judges.empty()) {
        // The judges' slots; the other evaluators score on the scoring thread.
        flight.evaluations.resize(pc.evaluators().size());
        ask_judges(tag.planned, flight);
      }
      if (flight.pending == 0) {
        finish_case(tag.planned, std::move(flight));
      } else {
        m_in_flight.emplace(tag.planned, std::move(flight));
      }
      return;
    }
    auto it = m_in_flight.find(tag.planned);
    if (it == m_in_flight.end()) {
      return;
    }
    CaseInFlight& flight = it->second;
    flight.judge.add(reply, tag.real_call);
    flight.answers[static_cast<std::size_t>(tag.slot)][tag.answer] =
        judge::Answer{reply.ok, reply.output, reply.error};
    if (--flight.pending == 0) {
      finish_case(tag.planned, std::move(flight));
      m_in_flight.erase(it);
    }
  }

  // Every evaluator but the judges, which get a placeholder.
  std::vector<evaluators::Evaluation> evaluate_case(const PlannedCase& pc,
                                                    const providers::Reply& reply) {
    const PlannedCandidate& cand = m_suites[pc.suite].candidates[pc.candidate];
    const registry::ResolvedPrompt* prompt = cand.prompt;
    evaluators::EvalInput input{
        reply.output,
        pc.test_case->expected,
        reply.latency_ms,
        reply.cost,
        [this, prompt](const std::string& path) { return load_schema(*prompt, path); },
        m_registry.root(),
        &pc.test_case->vars,
        [this, prompt](const std::string& path, bool format_assertion) {
          return compiled_schema(*prompt, path, format_assertion);
        }};
    std::vector<evaluators::Evaluation> out;
    out.reserve(pc.evaluators().size());
    for (std::size_t i = 0; i < pc.evaluators().size(); ++i) {
      const json& spec = pc.evaluators()[i];
      evaluators::Evaluation e;
      if (!pc.judges.empty() && pc.judges[i] != nullptr) {
        out.push_back(e); // asked next
        continue;
      }
      try {
        e = evaluators::evaluate(spec, input);
      } catch (const Error& err) {
        e.type = util::string_field(spec, "type");
        e.pass = false;
        e.reason = err.what();
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  // Queue the calls of every judge of the case: n samples each, twice for pairwise (the
  // candidate as A, then as B). A judge that cannot be asked is decided here.
  void ask_judges(std::size_t planned, CaseInFlight& flight) {
    const PlannedCase& pc = m_cases[planned];
    const PlannedCandidate& cand = m_suites[pc.suite].candidates[pc.candidate];
    const std::string& input = m_inputs[planned];
    for (std::size_t slot = 0; slot < pc.judges.size(); ++slot) {
      const PlannedJudge* j = pc.judges[slot];
      if (j == nullptr) {
        continue;
      }
      const judge::Options& o = j->options;
      const std::string context = "llm_judge for " + case_context(pc);
      const std::string& output = flight.reply.output;
      std::vector<providers::Request> orders;
      try {
        if (!o.pairwise) {
          orders.push_back(render_request(
              *j->prompt, *j->provider,
              judge::grading_vars(o, output, pc.test_case->expected, input, pc.test_case->vars),
              context, pc.test_case->id));
        } else {
          const auto base = cand.baseline->cases.find(pc.test_case->id);
          if (base == cand.baseline->cases.end()) {
            evaluators::Evaluation& e = flight.evaluations[slot];
            e.reason = "no baseline output for case \"" + pc.test_case->id + "\" in " +
                       cand.baseline->shown + " to compare with";
            evaluators::label(pc.evaluators()[slot], e);
            continue;
          }
          for (const bool candidate_first : {true, false}) {
            const std::string& a = candidate_first ? output : base->second.output;
            const std::string& b = candidate_first ? base->second.output : output;
            orders.push_back(render_request(
                *j->prompt, *j->provider,
                judge::pairwise_vars(o, a, b, pc.test_case->expected, input, pc.test_case->vars),
                context, pc.test_case->id));
          }
        }
      } catch (const Error& err) {
        evaluators::Evaluation& e = flight.evaluations[slot];
        e.error = true;
        e.reason = std::string("the judge prompt does not render: ") + err.what();
        evaluators::label(pc.evaluators()[slot], e);
        continue;
      }
      const std::size_t n = static_cast<std::size_t>(o.n);
      flight.answers[slot].resize(n * orders.size());
      for (std::size_t k = 0; k < n; ++k) {
        for (std::size_t order = 0; order < orders.size(); ++order) {
          providers::Request r = orders[order];
          r.sample = static_cast<int>(k);
          add_job(job_for(*j->provider, std::move(r)),
                  {planned, static_cast<long>(slot), k * orders.size() + order, false});
          ++flight.pending;
        }
      }
    }
  }

  // The judges' answers read, then the case handed to the scoring thread; the engine's thread
  // goes on with the next case.
  void finish_case(std::size_t planned, CaseInFlight flight) {
    const PlannedCase& pc = m_cases[planned];
    for (auto& [slot, answers] : flight.answers) {
      const judge::Options& o = pc.judges[slot]->options;
      evaluators::Evaluation e;
      if (o.pairwise) {
        std::vector<std::pair<judge::Answer, judge::Answer>> pairs;
        for (std::size_t k = 0; k + 1 < answers.size(); k += 2) {
          pairs.emplace_back(answers[k], answers[k + 1]);
        }
        e = judge::compare(o, pairs);
      } else {
        e = judge::grade(o, answers);
      }
      evaluators::label(pc.evaluators()[slot], e);
      flight.evaluations[slot] = std::move(e);
    }
    {
      std::unique_lock<std::mutex> lock(m_score_mutex);
      m_score_room.wait(lock, [this] {
        return m_score_queue.size() < k_cases_to_score || m_score_failed.load();
      });
      m_score_queue.emplace_back(planned, std::move(flight));
      if (m_score_queue.size() == 1) {
        m_score_wake.notify_one(); // it may be waiting for work; otherwise it is busy
      }
    }
    ++m_ended;
    if (m_options.on_progress) {
      m_options.on_progress(m_ended, m_total);
    }
    if (m_next_todo < m_todo.size()) {
      add_next_case();
    }
  }

  // Scoring, the case's line and the totals run on a thread of their own while the engine's
  // thread calls providers: they were more than half of a 0 ms run's work on one core. Every
  // evaluator (but the judges, scored above), the fingerprinter, the results file and the
  // totals are used from this thread only while the engine runs.
  class ScoringThread {
  public:
    explicit ScoringThread(Runner& runner) : m_runner(runner) {
      m_runner.m_score_closing = false;
      m_thread = std::thread([this] { m_runner.score_cases(); });
    }
    ~ScoringThread() {
      {
        std::lock_guard<std::mutex> lock(m_runner.m_score_mutex);
        m_runner.m_score_closing = true;
      }
      m_runner.m_score_wake.notify_one();
      m_thread.join();
    }
    ScoringThread(const ScoringThread&) = delete;
    ScoringThread& operator=(const ScoringThread&) = delete;

  private:
    Runner& m_runner;
    std::thread m_thread;
  };

  void score_cases() {
    std::unique_lock<std::mutex> lock(m_score_mutex);
    for (;;) {
      m_score_wake.wait(lock, [this] { return m_score_closing || !m_score_queue.empty(); });
      if (m_score_queue.empty()) {
        return; // closing, and every case written
      }
      auto [planned, flight] = std::move(m_score_queue.front());
      m_score_queue.pop_front();
      const bool was_full = m_score_queue.size() + 1 == k_cases_to_score;
      lock.unlock();
      if (was_full) {
        m_score_room.notify_one();
      }
      if (!m_score_failed.load()) {
        try {
          write_case(m_cases[planned], flight);
        } catch (...) {
          m_score_error = std::current_exception();
          m_score_failed.store(true);
          m_score_room.notify_one();
        }
      }
      lock.lock();
    }
  }

  // The case scored, its line written and counted.
  void write_case(const PlannedCase& pc, CaseInFlight& flight) {
    if (flight.reply.ok) {
      std::vector<evaluators::Evaluation> scored = evaluate_case(pc, flight.reply);
      for (std::size_t i = 0; i < pc.judges.size() && i < scored.size(); ++i) {
        if (pc.judges[i] != nullptr) {
          scored[i] = std::move(flight.evaluations[i]);
        }
      }
      flight.evaluations = std::move(scored);
    }
    // The fingerprint is computed once: written into the line and kept for drift.
    std::optional<Fingerprint> print;
    if (flight.reply.ok) {
      print = fingerprint(flight.reply.output);
    }
    ordered_json line = result_line(pc, flight.reply, flight.evaluations,
                                    pc.judges.empty() ? nullptr : &flight.judge, print);
    m_results->append(util::dump_json(line));
    tally(line, *m_outcome, std::move(print));
  }

  std::shared_ptr<const jsonschema::Validator>
  compiled_schema(const registry::ResolvedPrompt& prompt, const std::string& path,
                  bool format_assertion) {
    const std::string file = path.empty() ? prompt.prompt.output_schema : path;
    const std::string key =
        (path.empty() ? prompt.version + ":" : "") + file + "\x1f" + (format_assertion ? "1" : "0");
    if (auto it = m_schemas.find(key); it != m_schemas.end()) {
      return it->second;
    }
    const json schema = load_schema(prompt, path);
    jsonschema::CompileOptions options = registry_schema_options(m_registry, file);
    options.format_assertion = format_assertion;
    try {
      auto compiled = std::make_shared<const jsonschema::Validator>(
          jsonschema::Validator::compile(schema, options));
      m_schemas.emplace(key, compiled);
      return compiled;
    } catch (const jsonschema::SchemaError& e) {
      throw InputError("json_schema: " + m_registry.display(file) +
                       " is not a valid schema: " + e.what());
    }
  }

  ordered_json result_line(const PlannedCase& pc, const providers::Reply& reply,
                           const std::vector<evaluators::Evaluation>& scored,
                           const JudgeStats* judged,
                           const std::optional<Fingerprint>& print) const {
    const PlannedSuite& ps = m_suites[pc.suite];
    const PlannedCandidate& cand = ps.candidates[pc.candidate];
    ordered_json o = ordered_json::object(); // SPEC's order, for people reading the file
    // Room for every member at once: growing the member vector copies each (const) key, which
    // was most of the cost of building a line.
    o.get_ref<ordered_json::object_t&>().reserve(24);
    o["id"] = pc.test_case->id;
    o["suite"] = ps.suite.name;
    o["prompt"] = cand.prompt->prompt.name;
    o["provider"] = cand.provider->settings.name;
    o["model"] = reply.model.empty() ? ordered_json(nullptr) : ordered_json(reply.model);
    o["prompt_version"] = cand.prompt->version;
    o["output"] = reply.ok ? ordered_json(reply.output) : ordered_json(nullptr);
    ordered_json evaluations = ordered_json::array();
    std::string status = "error";
    ordered_json score = nullptr;
    std::string error = reply.error;
    if (reply.ok) {
      double weighted = 0;
      double weights = 0;
      bool pass = true;
      bool undecided = false;
      for (const evaluators::Evaluation& e : scored) {
        ordered_json ej = ordered_json::object();
        ej.get_ref<ordered_json::object_t&>().reserve(6);
        ej["type"] = e.type;
        ej["pass"] = e.pass;
        ej["score"] = e.score;
        ej["reason"] = e.reason;
        if (!e.required) {
          ej["required"] = false;
        }
        if (e.error) {
          ej["error"] = true;
        }
        evaluations.push_back(std::move(ej));
        weighted += e.score * e.weight;
        weights += e.weight;
        if (e.required && !e.pass) {
          pass = false;
        }
        if (e.required && e.error && !undecided) {
          // A judge that could not decide makes the case inconclusive, never a pass.
          undecided = true;
          error = e.type + ": " + e.reason;
        }
      }
      status = undecided ? "error" : pass ? "pass" : "fail";
      score = weights > 0 ? weighted / weights : 1.0;
    }
    o["status"] = status;
    o["score"] = score;
    o["evaluations"] = std::move(evaluations);
    o["latency_ms"] = reply.ok ? ordered_json(reply.latency_ms) : ordered_json(nullptr);
    ordered_json usage = ordered_json::object();
    usage["input_tokens"] =
        reply.usage.input_tokens ? ordered_json(*reply.usage.input_tokens) : ordered_json(nullptr);
    usage["output_tokens"] = reply.usage.output_tokens ? ordered_json(*reply.usage.output_tokens)
                                                       : ordered_json(nullptr);
    o["usage"] = std::move(usage);
    o["cost"] = reply.cost ? ordered_json(*reply.cost) : ordered_json(nullptr);
    o["fingerprint"] = print ? to_ordered_json(*print) : ordered_json(nullptr);
    o["system_fingerprint"] = reply.system_fingerprint.empty()
                                  ? ordered_json(nullptr)
                                  : ordered_json(reply.system_fingerprint);
    o["attempts"] = reply.attempts;
    o["cached"] = reply.cached;
    if (judged != nullptr) {
      o["judge"] = judge_stats_json(*judged);
    }
    if (status == "error") {
      o["error"] = error;
    }
    return o;
  }

  json load_schema(const registry::ResolvedPrompt& prompt, const std::string& path) const {
    std::string text;
    std::string shown;
    if (path.empty()) {
      if (!prompt.output_schema) {
        throw InputError("json_schema: prompt \"" + prompt.prompt.name +
                         "\" has no output_schema and the evaluator names no schema:");
      }
      text = *prompt.output_schema;
      shown = m_registry.display(prompt.prompt.output_schema);
    } else {
      auto t = m_registry.work_tree().read(path);
      if (!t) {
        throw InputError("json_schema: schema file " + m_registry.display(path) +
                         " does not exist");
      }
      text = *t;
      shown = m_registry.display(path);
    }
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) {
      throw InputError("json_schema: " + shown + " is not JSON");
    }
    return j;
  }

  json run_json(const std::string& run_id) const {
    json versions = json::object();
    for (const auto& ps : m_suites) {
      for (const auto& c : ps.candidates) {
        versions[c.prompt->prompt.name + "@" + c.prompt->ref] = c.prompt->version;
      }
    }
    for (const auto& [name, prompt] : m_judge_prompts) {
      versions[name + "@" + prompt->ref] = prompt->version; // a changed judge changes verdicts
    }
    return {{"run_id", run_id},
            {"started", now_iso()},
            {"suites", m_selection.suites},
            {"provider", m_selection.provider},
            {"filters", m_selection.filters},
            {"shard_index", m_selection.shard_index},
            {"shard_count", m_selection.shard_count},
            {"prompt_override", m_selection.prompt_override},
            {"prompt_versions", versions}};
  }

  void check_versions_unchanged(const json& record) const {
    const json before = record.value("prompt_versions", json::object());
    const json now = run_json("")["prompt_versions"];
    for (const auto& [key, version] : now.items()) {
      if (before.contains(key) && before[key] != version) {
        throw InputError("cannot resume run \"" + m_options.resume + "\": prompt " + key +
                         " changed since it started (" +
                         before[key].get<std::string>().substr(0, 12) + " -> " +
                         version.get<std::string>().substr(0, 12) + "); start a new run");
      }
    }
  }

  struct Totals {
    std::size_t cases = 0, pass = 0, fail = 0, error = 0;
  };

  // Counts one result line into its suite and provider's comparison with the baseline.
  void compare(const ordered_json& r, std::optional<Fingerprint> print) {
    const std::string suite = util::string_field(r, "suite");
    const std::string provider = util::string_field(r, "provider");
    const Baseline* b = baseline_of(suite, provider);
    if (b == nullptr) {
      return;
    }
    m_comparisons.try_emplace(suite + '\x1f' + provider, *b).first->second.add(r, std::move(print));
  }

  void tally(const ordered_json& r, RunOutcome& outcome,
             std::optional<Fingerprint> print = std::nullopt) {
    compare(r, std::move(print));
    const std::string status = util::string_field(r, "status");
    Totals& t = m_per_suite[util::string_field(r, "suite")];
    for (Totals* x : {&t, &m_all}) {
      ++x->cases;
      if (status == "pass") {
        ++x->pass;
      } else if (status == "fail") {
        ++x->fail;
      } else {
        ++x->error;
      }
    }
    if (auto failure = failure_of(r)) {
      outcome.failures.push_back(std::move(*failure));
    }
    if (auto u = r.find("usage"); u != r.end() && u->is_object()) {
      for (auto [key, total] : {std::pair{"input_tokens", &m_input_tokens},
                                std::pair{"output_tokens", &m_output_tokens}}) {
        const auto it = u->find(key);
        if (it != u->end() && it->is_number_integer()) {
          *total += it->get<std::int64_t>();
        }
      }
    }
    if (auto c = r.find("cost"); c != r.end() && c->is_number()) {
      m_cost += c->get<double>();
      m_any_cost = true;
    }
    if (auto j = r.find("judge"); j != r.end() && j->is_object()) {
      const auto count = [&](const char* key) { return j->value(key, std::size_t{0}); };
      m_judge.calls += count("calls");
      m_judge.requests += count("requests");
      m_judge.cached += count("cached");
      if (auto u = j->find("usage"); u != j->end() && u->is_object()) {
        m_judge.input_tokens += u->value("input_tokens", std::int64_t{0});
        m_judge.output_tokens += u->value("output_tokens", std::int64_t{0});
      }
      if (auto c = j->find("cost"); c != j->end() && c->is_number()) {
        m_judge.cost += c->get<double>();
        m_judge.any_cost = true;
      }
    }
  }

  void summarize(RunOutcome& outcome) {
    for (auto& prints : m_baseline_prints) {
      prints.get();
    }
    m_baseline_prints.clear();
    auto totals_json = [](const Totals& t) {
      ordered_json j;
      j["cases"] = t.cases;
      j["pass"] = t.pass;
      j["fail"] = t.fail;
      j["error"] = t.error;
      return j;
    };
    auto rate = [](const Totals& t) {
      return t.cases == 0
                 ? ordered_json(nullptr)
                 : ordered_json(static_cast<double>(t.pass) / static_cast<double>(t.cases));
    };

    bool gate_passed = true;
    ordered_json reasons = ordered_json::array();
    ordered_json suites = ordered_json::array();
    RunComparisons compared;
    const registry::Config& config = m_registry.config();
    for (const auto& ps : m_suites) {
      const Totals& t = m_per_suite[ps.suite.name];
      ordered_json sj;
      sj["name"] = ps.suite.name;
      sj["file"] = ps.suite.display_path;
      ordered_json cands = ordered_json::array();
      for (const auto& c : ps.candidates) {
        ordered_json cj;
        cj["prompt"] = c.prompt->prompt.name;
        cj["ref"] = c.prompt->ref;
        cj["prompt_version"] = c.prompt->version;
        cj["provider"] = c.provider->settings.name;
        cands.push_back(std::move(cj));
      }
      sj["candidates"] = std::move(cands);
      sj["totals"] = totals_json(t);
      sj["pass_rate"] = rate(t);
      SuiteGate suite_gate;
      suite_gate.suite = ps.suite.name;
      suite_gate.cases = t.cases;
      suite_gate.pass = t.pass;
      suite_gate.error = t.error;
      suite_gate.min_pass_rate =
          ps.suite.gate.min_pass_rate.value_or(config.gate.min_pass_rate.value_or(1.0));
      suite_gate.max_regressions = ps.suite.gate.max_regressions ? ps.suite.gate.max_regressions
                                                                 : config.gate.max_regressions;
      suite_gate.fail_on_drift =
          (ps.suite.gate.fail_on_drift ? ps.suite.gate.fail_on_drift : config.gate.fail_on_drift)
              .value_or(std::vector<std::string>{});
      suite_gate.drift_sensitivity =
          parse_drift_sensitivity(ps.suite.gate.drift_sensitivity.value_or(
                                      config.gate.drift_sensitivity.value_or("default")))
              .value_or(DriftSensitivity::standard);
      ordered_json baselines = ordered_json::array();
      std::set<std::string> providers_seen;
      for (const auto& cand : ps.candidates) {
        const std::string& provider = cand.provider->settings.name;
        if (!providers_seen.insert(provider).second) {
          continue;
        }
        if (auto found = m_comparisons.find(ps.suite.name + '\x1f' + provider);
            found != m_comparisons.end()) {
          compared.add(ps.suite.name, provider, found->second,
                       m_selection.filters.empty() && !outcome.interrupted, baselines, suite_gate,
                       pricing_of(config, provider));
        }
      }
      sj["baselines"] = std::move(baselines);
      sj["gate"] = gate_json(suite_gate, reasons);
      gate_passed = gate_passed && sj["gate"]["passed"].get<bool>();
      suites.push_back(std::move(sj));
    }

    ordered_json s;
    s["run_id"] = outcome.run_id;
    s["suites"] = std::move(suites);
    s["totals"] = totals_json(m_all);
    s["pass_rate"] = rate(m_all);
    s["regressions"] = std::move(compared.regressions);
    s["fixed"] = std::move(compared.fixed);
    s["drift"] = std::move(compared.drift);
    s["provider_changes"] = std::move(compared.provider_changes);
    ordered_json gate;
    gate["passed"] = gate_passed && !outcome.interrupted;
    if (outcome.interrupted) {
      reasons.push_back("the run was interrupted; finish it with --resume " + outcome.run_id);
    }
    gate["reasons"] = std::move(reasons);
    s["gate"] = std::move(gate);
    ordered_json usage;
    usage["input_tokens"] = m_input_tokens;
    usage["output_tokens"] = m_output_tokens;
    s["usage"] = std::move(usage);
    s["cost"] = m_any_cost ? ordered_json(m_cost) : ordered_json(nullptr);
    s["requests"] = outcome.requests_sent;
    s["cached"] = outcome.cached;
    // Judges' calls, tokens and cost, apart from the candidates' above.
    s["judge"] = judge_stats_json(m_judge);
    s["interrupted"] = outcome.interrupted;
    s["finished"] = now_iso();
    outcome.summary = std::move(s);
    outcome.exit_code = (m_all.error > 0 || outcome.interrupted) ? 3 : gate_passed ? 0 : 1;
  }

  const registry::Registry& m_registry;
  const TestOptions& m_options;
  TestOptions m_selection; // suites, provider and filters: the options', or the resumed run's
  std::vector<PlannedSuite> m_suites;
  std::vector<PlannedCase> m_cases;
  std::map<std::string, std::unique_ptr<registry::ResolvedPrompt>> m_prompts;
  std::map<std::string, std::unique_ptr<ProviderRuntime>> m_providers;
  std::map<std::string, std::unique_ptr<registry::ResolvedPrompt>> m_judge_prompts; // by name
  std::vector<std::unique_ptr<PlannedJudge>> m_planned_judges;
  std::map<std::string, std::unique_ptr<Baseline>> m_baselines; // by file; null: none
  std::vector<std::future<void>> m_baseline_prints;             // their fingerprints, being made
  std::unordered_map<std::size_t, std::string> m_inputs; // judged cases: the prompt's last message
  std::unordered_map<std::string, std::shared_ptr<const jsonschema::Validator>> m_schemas;
  mutable std::unordered_map<const registry::ResolvedPrompt*, std::shared_ptr<const json>>
      m_output_schemas; // by prompt
  // While the engine runs.
  providers::CallEngine* m_engine = nullptr;
  std::vector<JobTag> m_tags;      // per job
  std::vector<std::size_t> m_todo; // the planned cases this run does, in order
  std::size_t m_next_todo = 0;     // the next of m_todo to give the engine
  std::unordered_map<std::size_t, CaseInFlight> m_in_flight; // by planned case
  ResultsFile* m_results = nullptr;
  RunOutcome* m_outcome = nullptr;
  std::size_t m_ended = 0;
  std::size_t m_total = 0;
  // The scoring thread's queue (see ScoringThread).
  std::mutex m_score_mutex;
  std::condition_variable m_score_wake; // a case queued, or closing
  std::condition_variable m_score_room; // the queue has room again, or scoring failed
  std::deque<std::pair<std::size_t, CaseInFlight>> m_score_queue; // planned case, its call
  bool m_score_closing = false;
  std::atomic<bool> m_score_failed{false};
  std::exception_ptr m_score_error; // set by the scoring thread before m_score_failed
  JudgeStats m_judge;               // over the run
  std::map<std::string, Totals> m_per_suite;
  std::map<std::string, BaselineComparison> m_comparisons; // suite \x1f provider
  Totals m_all;
  std::int64_t m_input_tokens = 0;
  std::int64_t m_output_tokens = 0;
  double m_cost = 0;
  bool m_any_cost = false;
};

} // namespace

RunOutcome merge_runs(const registry::Registry& registry, const std::vector<std::string>& run_ids) {
  if (run_ids.size() < 2) {
    throw UsageError("promptops merge takes two runs or more");
  }
  const std::filesystem::path runs = registry.root() / ".promptops" / "runs";
  json first;
  std::string results;
  std::set<std::string> keys;
  std::set<int> shards;
  for (const auto& id : run_ids) {
    const std::filesystem::path dir = runs / id;
    auto record_text = util::read_file_if_exists(dir / "run.json");
    if (id.empty() || id.find('/') != std::string::npos || !record_text) {
      throw InputError("no run \"" + id + "\" in " + registry.display(".promptops/runs"));
    }
    json record = json::parse(*record_text, nullptr, false);
    const auto summary = util::read_file_if_exists(dir / "summary.json");
    if (!record.is_object() || !summary ||
        json::parse(*summary, nullptr, false).value("interrupted", true)) {
      throw RunError("run " + id + " did not finish: complete it with promptops test --resume " +
                     id + " first");
    }
    if (first.is_null()) {
      first = record;
    } else {
      for (const char* key : {"suites", "provider", "filters", "prompt_versions", "shard_count"}) {
        if (record.value(key, json()) != first.value(key, json())) {
          throw InputError("run " + id + " is not a shard of the same selection as run " +
                           util::string_field(first, "run_id") + ": their \"" + key + "\" differ");
        }
      }
    }
    if (!shards.insert(record.value("shard_index", 0)).second) {
      throw InputError("run " + id + " is shard " + std::to_string(record.value("shard_index", 0)) +
                       " again");
    }
    const std::string text = util::read_file(dir / "results.jsonl");
    util::for_each_line(text, [&](std::size_t line_no, std::string_view line) {
      const json r = json::parse(line, nullptr, false);
      if (!r.is_object()) {
        return;
      }
      const std::string key =
          done_key(util::string_field(r, "suite"), util::string_field(r, "provider"),
                   util::string_field(r, "prompt"), util::string_field(r, "id"));
      if (!keys.insert(key).second) {
        throw InputError(registry.display(".promptops/runs/" + id + "/results.jsonl"), {line_no, 1},
                         "case \"" + util::string_field(r, "id") +
                             "\" is in two of the runs: they overlap");
      }
      results.append(line);
      results += '\n';
    });
  }
  // The merged run: the shards' selection without a shard, and every result line.
  const std::string merged_id = new_run_id();
  const std::filesystem::path dir = runs / merged_id;
  std::filesystem::create_directories(dir);
  json record = first;
  record["run_id"] = merged_id;
  record["shard_index"] = 0;
  record["shard_count"] = 0;
  record["merged_from"] = run_ids;
  try {
    util::write_file_atomic(dir / "results.jsonl", results);
    util::write_file_atomic(dir / "run.json", record.dump(2) + "\n");
    TestOptions options;
    options.resume = merged_id;
    options.no_calls = true;
    return run_tests(registry, options);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec); // nothing half-made is left behind
    throw;
  }
}

std::optional<Failure> failure_of(const nlohmann::ordered_json& result) {
  const std::string status = util::string_field(result, "status");
  if (status == "pass") {
    return std::nullopt;
  }
  return Failure{util::string_field(result, "suite"), util::string_field(result, "provider"),
                 util::string_field(result, "id"), status, first_failed_reason(result)};
}

RunOutcome run_tests(const registry::Registry& registry, const TestOptions& options) {
  auto runner = std::make_unique<Runner>(registry, options);
  RunOutcome outcome = runner->run();
  // The plan, the baselines and the fingerprints of a big run take a fraction of a second to
  // free, just before the command ends; run() has closed the results file and joined its
  // threads.
  util::free_at_exit(std::move(runner));
  return outcome;
}

} // namespace promptops::golden
