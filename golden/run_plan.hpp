#pragma once

#include "evaluators/judge.hpp"
#include "golden/baseline.hpp"
#include "golden/evidence_inputs.hpp"
#include "golden/runner.hpp"
#include "golden/suite.hpp"
#include "providers/engine.hpp"

#include <nlohmann/json.hpp>

#include <future>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

// The first stage of `promptops test`: every selected suite, case and candidate resolved,
// rendered and checked before any request is sent (golden/runner.cpp drives the stages).
namespace promptops::golden {

// A candidate of a suite: a prompt version on a provider.
struct PlannedCandidate {
  const registry::ResolvedPrompt* prompt = nullptr;
  const providers::ProviderRuntime* provider = nullptr;
  std::string label; // "support/classify@prod on default"
  // golden/baselines/<suite>/<provider>.jsonl: what the run is compared with and pairwise
  // judges compare against (null: the suite has no baseline on this provider).
  const Baseline* baseline = nullptr;
};

// One llm_judge entry, ready to ask: its options, its prompt and its provider.
struct PlannedJudge {
  evaluators::judge::Options options;
  const registry::ResolvedPrompt* prompt = nullptr;
  const providers::ProviderRuntime* provider = nullptr;
};

struct PlannedSuite {
  Suite suite;
  std::vector<Case> cases;
  std::vector<PlannedCandidate> candidates;
};

// One case on one candidate.
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

class RunPlan {
public:
  // Plans `selection` (suites, provider, filters, shard, prompt override). Throws
  // InputError(s) for bad suites, cases, prompts, providers, evaluators or templates, and
  // NothingToDoError when nothing is selected.
  RunPlan(const registry::Registry& registry, const TestOptions& selection);
  ~RunPlan();
  RunPlan(const RunPlan&) = delete;
  RunPlan& operator=(const RunPlan&) = delete;

  const registry::Registry& registry() const { return m_registry; }
  const TestOptions& selection() const { return m_selection; }
  const std::vector<PlannedSuite>& suites() const { return m_suites; }
  const std::vector<PlannedCase>& cases() const { return m_cases; }
  const PlannedCandidate& candidate(const PlannedCase& pc) const {
    return m_suites[pc.suite].candidates[pc.candidate];
  }
  // Every provider the plan calls (candidates' and judges'), by name.
  const std::map<std::string, std::unique_ptr<providers::ProviderRuntime>>& providers() const {
    return m_providers;
  }

  // "case "id" in golden/x.jsonl:3", for messages.
  std::string case_context(const PlannedCase& pc) const;
  // The candidate's request for the case. Throws InputError when it does not render.
  providers::Request request(const PlannedCase& pc) const;
  // `prompt` rendered with `vars` as a call to `provider`: the provider's params overridden by
  // the prompt's, the prompt's model unless it has none. Throws InputError.
  providers::Request render(const registry::ResolvedPrompt& prompt,
                            const providers::ProviderRuntime& provider, const nlohmann::json& vars,
                            const std::string& context, const std::string& case_id) const;
  // A job for `provider`, cached unless it answers offline (echo, replay).
  static providers::Job job_for(const providers::ProviderRuntime& provider,
                                providers::Request request);

  // The key of a planned case or a result line's case: suite, provider, prompt and id.
  static std::string done_key(const std::string& suite, const std::string& provider,
                              const std::string& prompt, const std::string& id);
  std::string done_key(const PlannedCase& pc) const;

  // The baseline of `suite` on `provider` when the plan has one, else null. Its fingerprints
  // are made on another thread: wait_for_baselines() before reading them.
  const Baseline* baseline(const std::string& suite, const std::string& provider) const;
  void wait_for_baselines();

  // run.json of a new run: its selection and the prompt versions it runs (judges' included).
  nlohmann::json run_record(const std::string& run_id, const std::string& started) const;
  // "name@ref" -> version of every prompt the plan runs, judges' included.
  nlohmann::json prompt_versions() const;
  // What each suite's verdict depends on besides the prompts, as the work tree holds it now.
  std::map<std::string, EvidenceInputs> evidence_inputs() const;
  // Throws InputError when a prompt or a suite's input of `record` (a run being resumed) has
  // changed since.
  void check_versions_unchanged(const nlohmann::json& record, const std::string& run_id) const;

private:
  void plan_suites();
  std::vector<std::string> suite_names() const;
  PlannedSuite plan_suite(const std::string& name, const registry::PromptRef& override_ref);
  void plan_cases();
  void check_renders() const;
  const PlannedJudge* plan_judge(const nlohmann::json& spec, const std::string& where,
                                 PlannedSuite& ps);
  const Baseline* load_baseline_of(const std::string& suite, const std::string& provider);
  bool in_shard(const std::string& suite, const std::string& id) const;
  const registry::ResolvedPrompt& resolve(const Candidate& candidate, const std::string& shown);
  const providers::ProviderRuntime& runtime(const registry::ProviderConfig& config);
  std::shared_ptr<const nlohmann::json>
  parsed_output_schema(const registry::ResolvedPrompt& prompt) const;

  const registry::Registry& m_registry;
  TestOptions m_selection;
  std::vector<PlannedSuite> m_suites;
  std::vector<PlannedCase> m_cases;
  std::map<std::string, std::unique_ptr<registry::ResolvedPrompt>> m_prompts;
  std::map<std::string, std::unique_ptr<providers::ProviderRuntime>> m_providers;
  std::map<std::string, std::unique_ptr<registry::ResolvedPrompt>> m_judge_prompts; // by name
  std::vector<std::unique_ptr<PlannedJudge>> m_planned_judges;
  std::map<std::string, std::unique_ptr<Baseline>> m_baselines; // by file; null: none
  std::vector<std::future<void>> m_baseline_prints;             // their fingerprints, being made
  // By prompt; used from the engine's thread only once the run starts.
  mutable std::unordered_map<const registry::ResolvedPrompt*, std::shared_ptr<const nlohmann::json>>
      m_output_schemas;
};

} // namespace promptops::golden
