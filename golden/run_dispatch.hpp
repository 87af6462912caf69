#pragma once

#include "golden/run_plan.hpp"
#include "golden/run_scoring.hpp"
#include "providers/engine.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

// The dispatch stage of `promptops test`: cases handed to the call engine a window at a time;
// when a candidate's reply arrives its judges' calls are added; when a case's last call has
// ended its judges are graded and the case goes to the scoring thread. Runs on the engine's
// thread (its on_done).
namespace promptops::golden {

// How many cases the engine holds at once: at least 1,024, far above a provider's usual
// concurrency, or four times the largest concurrency of the plan's providers.
std::size_t engine_window(const RunPlan& plan, int concurrency_override);

class Dispatcher {
public:
  // `on_progress(ended, total)` is called as each case ends; `ended` cases of `total` are
  // already done (a resumed run). Every argument must outlive the dispatcher.
  Dispatcher(const RunPlan& plan, ScoringThread& scoring,
             std::function<void(std::size_t, std::size_t)> on_progress, std::size_t ended,
             std::size_t total);

  // Gives `engine` the first `window` cases of `todo` (indices into the plan's cases); the
  // next goes in as each case ends.
  void start(providers::Engine& engine, std::vector<std::size_t> todo, std::size_t window);
  // The engine's on_done: a call ended.
  void job_done(std::size_t job, const providers::Reply& reply);

  std::size_t ended() const { return m_ended; }
  std::size_t total() const { return m_total; }
  std::size_t requests_sent() const { return m_requests_sent; } // the candidates' attempts
  std::size_t cached() const { return m_cached; }

private:
  // What a job of the engine is for.
  struct JobTag {
    std::size_t planned = 0; // the case, an index into the planned cases
    long slot = -1;          // -1: the candidate's call; else the evaluator it judges for
    std::size_t answer = 0;  // which of that judge's answers
    bool real_call = false;  // a provider call (not echo or replay)
  };
  // A case whose candidate answered and whose judges are still out.
  struct CaseInFlight {
    EndedCase ended;
    std::map<std::size_t, std::vector<evaluators::judge::Answer>> answers; // by evaluator
    std::size_t pending = 0;
  };

  void add_next_case();
  void add_job(providers::Job job, JobTag tag);
  void candidate_done(const JobTag& tag, const providers::Reply& reply);
  void ask_judges(std::size_t planned, CaseInFlight& flight);
  void ask_judge(std::size_t planned, std::size_t slot, CaseInFlight& flight);
  void finish_case(CaseInFlight flight);

  const RunPlan& m_plan;
  ScoringThread& m_scoring;
  std::function<void(std::size_t, std::size_t)> m_on_progress;
  providers::Engine* m_engine = nullptr;
  std::vector<JobTag> m_tags;      // per job
  std::vector<std::size_t> m_todo; // the planned cases this run does, in order
  std::size_t m_next_todo = 0;     // the next of m_todo to give the engine
  std::unordered_map<std::size_t, CaseInFlight> m_in_flight; // by planned case
  std::unordered_map<std::size_t, std::string> m_inputs; // judged cases: the prompt's last message
  std::size_t m_ended = 0;
  std::size_t m_total = 0;
  std::size_t m_requests_sent = 0;
  std::size_t m_cached = 0;
};

} // namespace promptops::golden
