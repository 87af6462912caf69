#include "golden/run_dispatch.hpp"

#include "util/error.hpp"

#include <algorithm>

namespace promptops::golden {
namespace {

namespace judge = evaluators::judge;

// Cases given to the engine and not yet written, at least: far above a provider's usual
// concurrency (it grows to four times the largest), far below a large suite.
constexpr std::size_t k_cases_in_flight = 1024;

void count_judge_call(JudgeUsage& usage, const providers::Reply& reply, bool real_call) {
  ++usage.calls;
  if (reply.cached) {
    ++usage.cached;
  } else if (real_call) {
    usage.requests += static_cast<std::size_t>(reply.attempts);
  }
  usage.input_tokens += reply.usage.input_tokens.value_or(0);
  usage.output_tokens += reply.usage.output_tokens.value_or(0);
  if (reply.cost) {
    usage.cost = usage.cost.value_or(0) + *reply.cost;
  }
}

} // namespace

std::size_t engine_window(const RunPlan& plan, int concurrency_override) {
  std::size_t window = k_cases_in_flight;
  for (const auto& [_, p] : plan.providers()) {
    const int c = concurrency_override > 0 ? concurrency_override : p->settings.concurrency;
    window = std::max(window, 4 * static_cast<std::size_t>(std::max(c, 1)));
  }
  return window;
}

Dispatcher::Dispatcher(const RunPlan& plan, ScoringThread& scoring,
                       std::function<void(std::size_t, std::size_t)> on_progress, std::size_t ended,
                       std::size_t total)
    : m_plan(plan), m_scoring(scoring), m_on_progress(std::move(on_progress)), m_ended(ended),
      m_total(total) {}

void Dispatcher::start(providers::Engine& engine, std::vector<std::size_t> todo,
                       std::size_t window) {
  // Cases enter the engine a window at a time, the next as one is written: a fast candidate
  // (echo, the cache) would otherwise run far ahead of slow judges and hold every case's
  // output and judge requests in memory at once.
  m_engine = &engine;
  m_todo = std::move(todo);
  while (m_next_todo < m_todo.size() && m_next_todo < window) {
    add_next_case();
  }
}

void Dispatcher::add_next_case() {
  const std::size_t i = m_todo[m_next_todo++];
  const PlannedCase& pc = m_plan.cases()[i];
  providers::Request request = m_plan.request(pc);
  if (!pc.judges.empty() && !request.messages.empty()) {
    m_inputs[i] = request.messages.back().content; // the judges' "input"
  }
  add_job(RunPlan::job_for(*m_plan.candidate(pc).provider, std::move(request)), {i, -1, 0, false});
}

void Dispatcher::add_job(providers::Job job, JobTag tag) {
  tag.real_call = !job.cache_key.empty();
  const std::size_t index = m_engine->add(std::move(job));
  if (m_tags.size() <= index) {
    m_tags.resize(index + 1);
  }
  m_tags[index] = tag;
}

// A call ended: a candidate's (ask its judges) or a judge's (when it was the case's last,
// grade the judges and hand the case on).
void Dispatcher::job_done(std::size_t job, const providers::Reply& reply) {
  m_scoring.rethrow_if_failed(); // the results could not be written: stop the run
  const JobTag tag = m_tags[job];
  if (tag.slot < 0) {
    candidate_done(tag, reply);
    return;
  }
  auto it = m_in_flight.find(tag.planned);
  if (it == m_in_flight.end()) {
    return;
  }
  CaseInFlight& flight = it->second;
  count_judge_call(*flight.ended.judge, reply, tag.real_call);
  flight.answers[static_cast<std::size_t>(tag.slot)][tag.answer] =
      judge::Answer{reply.ok, reply.output, reply.error};
  if (--flight.pending == 0) {
    finish_case(std::move(flight));
    m_in_flight.erase(it);
  }
}

void Dispatcher::candidate_done(const JobTag& tag, const providers::Reply& reply) {
  const PlannedCase& pc = m_plan.cases()[tag.planned];
  if (reply.cached) {
    ++m_cached;
  } else if (tag.real_call) {
    m_requests_sent += static_cast<std::size_t>(reply.attempts);
  }
  CaseInFlight flight;
  flight.ended.planned = tag.planned;
  flight.ended.reply = reply;
  if (!pc.judges.empty()) {
    flight.ended.judge = JudgeUsage{};
  }
  if (reply.ok && !pc.judges.empty()) {
    // The judges' slots; the other evaluators score on the scoring thread.
    flight.ended.evaluations.resize(pc.evaluators().size());
    ask_judges(tag.planned, flight);
  }
  m_inputs.erase(tag.planned); // read by ask_judges only: kept, every case's stayed to the end
  if (flight.pending == 0) {
    finish_case(std::move(flight));
  } else {
    m_in_flight.emplace(tag.planned, std::move(flight));
  }
}

// Queue the calls of every judge of the case.
void Dispatcher::ask_judges(std::size_t planned, CaseInFlight& flight) {
  const PlannedCase& pc = m_plan.cases()[planned];
  for (std::size_t slot = 0; slot < pc.judges.size(); ++slot) {
    if (pc.judges[slot] != nullptr) {
      ask_judge(planned, slot, flight);
    }
  }
}

// Queue one judge's calls: n samples, twice for pairwise (the candidate as A, then as B). A
// judge that cannot be asked is decided here.
void Dispatcher::ask_judge(std::size_t planned, std::size_t slot, CaseInFlight& flight) {
  const PlannedCase& pc = m_plan.cases()[planned];
  const PlannedCandidate& cand = m_plan.candidate(pc);
  const PlannedJudge* j = pc.judges[slot];
  const std::string& input = m_inputs[planned];
  const judge::Options& o = j->options;
  const std::string context = "llm_judge for " + m_plan.case_context(pc);
  const std::string& output = flight.ended.reply.output;
  evaluators::Evaluation& verdict = flight.ended.evaluations[slot];
  // A reply the trust rule fails is not worth a judge's call: it fails all the same.
  evaluators::EvalInput facts{output, pc.test_case->expected};
  facts.facts = &flight.ended.reply.facts;
  facts.allowed = &m_plan.suites()[pc.suite].suite.allow;
  if (std::optional<evaluators::Evaluation> unusable =
          evaluators::unusable(pc.evaluators()[slot], facts)) {
    verdict = std::move(*unusable);
    return;
  }
  std::vector<providers::Request> orders;
  try {
    if (!o.pairwise) {
      orders.push_back(m_plan.render(
          *j->prompt, *j->provider,
          judge::grading_vars(o, output, pc.test_case->expected, input, pc.test_case->vars),
          context, pc.test_case->id));
    } else {
      const auto base = cand.baseline->cases.find(pc.test_case->id);
      if (base == cand.baseline->cases.end()) {
        verdict.reason = "no baseline output for case \"" + pc.test_case->id + "\" in " +
                         cand.baseline->shown + " to compare with";
        evaluators::label(pc.evaluators()[slot], verdict);
        return;
      }
      for (const bool candidate_first : {true, false}) {
        const std::string& a = candidate_first ? output : base->second.output;
        const std::string& b = candidate_first ? base->second.output : output;
        orders.push_back(m_plan.render(
            *j->prompt, *j->provider,
            judge::pairwise_vars(o, a, b, pc.test_case->expected, input, pc.test_case->vars),
            context, pc.test_case->id));
      }
    }
  } catch (const Error& err) {
    verdict.error = true;
    verdict.reason = std::string("the judge prompt does not render: ") + err.what();
    evaluators::label(pc.evaluators()[slot], verdict);
    return;
  }
  const std::size_t n = static_cast<std::size_t>(o.n);
  flight.answers[slot].resize(n * orders.size());
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t order = 0; order < orders.size(); ++order) {
      providers::Request r = orders[order];
      r.sample = static_cast<int>(k);
      add_job(RunPlan::job_for(*j->provider, std::move(r)),
              {planned, static_cast<long>(slot), k * orders.size() + order, false});
      ++flight.pending;
    }
  }
}

// The judges' answers read, then the case handed to the scoring thread; the engine's thread
// goes on with the next case.
void Dispatcher::finish_case(CaseInFlight flight) {
  const PlannedCase& pc = m_plan.cases()[flight.ended.planned];
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
    flight.ended.evaluations[slot] = std::move(e);
  }
  m_scoring.push(std::move(flight.ended));
  ++m_ended;
  if (m_on_progress) {
    m_on_progress(m_ended, m_total);
  }
  if (m_next_todo < m_todo.size()) {
    add_next_case();
  }
}

} // namespace promptops::golden
