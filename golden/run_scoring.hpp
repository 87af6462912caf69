#pragma once

#include "evaluators/evaluator.hpp"
#include "golden/result.hpp"
#include "golden/results_file.hpp"
#include "golden/run_plan.hpp"
#include "golden/run_tally.hpp"
#include "jsonschema/validator.hpp"
#include "providers/provider.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

// The scoring stage of `promptops test`: a case whose calls have all ended is scored (every
// evaluator but the judges, which the dispatch stage graded), fingerprinted, written to
// results.jsonl and counted, on a thread of its own.
namespace promptops::golden {

// A case whose calls have all ended.
struct EndedCase {
  std::size_t planned = 0; // an index into the plan's cases
  providers::Reply reply;  // the candidate's
  // Per evaluator when the case has judges, with the judges' verdicts in their slots; empty
  // otherwise.
  std::vector<evaluators::Evaluation> evaluations;
  std::optional<JudgeUsage> judge; // set when the case has judges
};

// Scores ended cases and writes their results.
class CaseScorer {
public:
  // Every argument must outlive the scorer.
  CaseScorer(const RunPlan& plan, ResultsFile& results, RunTally& tally)
      : m_plan(plan), m_results(results), m_tally(tally) {}

  // Scores `ended`, appends its result to the results file and counts it. Throws RunError
  // when the line cannot be written.
  void score(EndedCase& ended);

private:
  std::vector<evaluators::Evaluation> evaluate(const PlannedCase& pc,
                                               const providers::Reply& reply);
  std::shared_ptr<const jsonschema::Validator>
  compiled_schema(const registry::ResolvedPrompt& prompt, const std::string& path,
                  bool format_assertion);
  nlohmann::json load_schema(const registry::ResolvedPrompt& prompt, const std::string& path) const;

  const RunPlan& m_plan;
  ResultsFile& m_results;
  RunTally& m_tally;
  std::unordered_map<std::string, std::shared_ptr<const jsonschema::Validator>> m_schemas;
};

// The case's result: its identity from the plan, the reply's figures, the evaluations and
// the status and score they decide.
CaseResult case_result(const RunPlan& plan, const PlannedCase& pc, const providers::Reply& reply,
                       const std::vector<evaluators::Evaluation>& scored,
                       std::optional<JudgeUsage> judge);

// Scoring, the results file and the totals run on a thread of their own while the engine's
// thread calls providers: they were more than half of a 0 ms run's work on one core. The
// scorer is used from that thread only.
class ScoringThread {
public:
  explicit ScoringThread(std::function<void(EndedCase&)> score);
  ~ScoringThread(); // close()
  ScoringThread(const ScoringThread&) = delete;
  ScoringThread& operator=(const ScoringThread&) = delete;

  // Queues a case; waits while 1,024 are queued (the engine's thread is that far ahead).
  void push(EndedCase ended);
  // Scores what is queued and ends the thread.
  void close();
  // Rethrows what the scorer threw (the results could not be written), if it did.
  void rethrow_if_failed() const;

private:
  void loop();

  std::function<void(EndedCase&)> m_score;
  std::mutex m_mutex;
  std::condition_variable m_wake; // a case queued, or closing
  std::condition_variable m_room; // the queue has room again, or scoring failed
  std::deque<EndedCase> m_queue;
  bool m_closing = false;
  std::atomic<bool> m_failed{false};
  std::exception_ptr m_error; // set before m_failed
  std::thread m_thread;
};

} // namespace promptops::golden
