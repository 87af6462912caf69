#include "golden/run_scoring.hpp"

#include "golden/fingerprint.hpp"
#include "golden/schema_options.hpp"
#include "util/error.hpp"
#include "util/json_fields.hpp"

namespace promptops::golden {
namespace {

// Ended cases waiting for the scoring thread; the engine's thread waits when it is this far
// ahead.
constexpr std::size_t k_cases_to_score = 1024;

EvaluationResult evaluation_result(const evaluators::Evaluation& e) {
  return {e.type, e.pass, e.score, e.reason, e.required, e.error};
}

} // namespace

CaseResult case_result(const RunPlan& plan, const PlannedCase& pc, const providers::Reply& reply,
                       const std::vector<evaluators::Evaluation>& scored,
                       std::optional<JudgeUsage> judge) {
  const PlannedCandidate& cand = plan.candidate(pc);
  CaseResult r;
  r.id = pc.test_case->id;
  r.suite = plan.suites()[pc.suite].suite.name;
  r.prompt = cand.prompt->prompt.name;
  r.provider = cand.provider->settings.name;
  r.model = reply.model;
  r.prompt_version = cand.prompt->version;
  r.error = reply.error;
  if (reply.ok) {
    r.output = reply.output;
    r.facts = reply.facts;
    r.notes = reply.notes;
    double weighted = 0;
    double weights = 0;
    bool pass = true;
    bool undecided = false;
    r.evaluations.reserve(scored.size());
    for (const evaluators::Evaluation& e : scored) {
      r.evaluations.push_back(evaluation_result(e));
      weighted += e.score * e.weight;
      weights += e.weight;
      if (e.required && !e.pass) {
        pass = false;
      }
      if (e.required && e.error && !undecided) {
        // A judge that could not decide makes the case inconclusive, never a pass.
        undecided = true;
        r.error = e.type + ": " + e.reason;
      }
    }
    r.status = undecided ? CaseStatus::error : pass ? CaseStatus::pass : CaseStatus::fail;
    r.score = weights > 0 ? weighted / weights : 1.0;
    r.latency_ms = reply.latency_ms;
  }
  r.usage = reply.usage;
  r.cost = reply.cost;
  r.system_fingerprint = reply.system_fingerprint;
  r.attempts = reply.attempts;
  r.cached = reply.cached;
  r.judge = std::move(judge);
  return r;
}

void CaseScorer::score(EndedCase& ended) {
  const PlannedCase& pc = m_plan.cases()[ended.planned];
  if (ended.reply.ok) {
    std::vector<evaluators::Evaluation> scored = evaluate(pc, ended.reply);
    for (std::size_t i = 0; i < pc.judges.size() && i < scored.size(); ++i) {
      // A judge of a reply the trust rule fails keeps that failure, whatever it said.
      if (pc.judges[i] != nullptr && scored[i].type.empty()) {
        scored[i] = std::move(ended.evaluations[i]);
      }
    }
    ended.evaluations = std::move(scored);
  }
  CaseResult result =
      case_result(m_plan, pc, ended.reply, ended.evaluations, std::move(ended.judge));
  // The fingerprint is made once: written into the line and kept for drift.
  if (ended.reply.ok) {
    result.fingerprint = fingerprint(ended.reply.output, tool_names(ended.reply.facts.tool_calls));
  }
  m_results.append(result);
  std::optional<Fingerprint> print = std::move(result.fingerprint);
  m_tally.add(result, std::move(print));
}

// Every evaluator but the judges, which get a placeholder.
std::vector<evaluators::Evaluation> CaseScorer::evaluate(const PlannedCase& pc,
                                                         const providers::Reply& reply) {
  const registry::ResolvedPrompt* prompt = m_plan.candidate(pc).prompt;
  evaluators::EvalInput input{
      reply.output,
      pc.test_case->expected,
      reply.latency_ms,
      reply.cost,
      [this, prompt](const std::string& path) { return load_schema(*prompt, path); },
      m_plan.registry().root(),
      &pc.test_case->vars,
      [this, prompt](const std::string& path, bool format_assertion) {
        return compiled_schema(*prompt, path, format_assertion);
      },
      &reply.facts,
      &m_plan.suites()[pc.suite].suite.allow,
      prompt->prompt.tools.get()};
  std::vector<evaluators::Evaluation> out;
  out.reserve(pc.evaluators().size());
  for (std::size_t i = 0; i < pc.evaluators().size(); ++i) {
    const nlohmann::json& spec = pc.evaluators()[i];
    evaluators::Evaluation e;
    if (!pc.judges.empty() && pc.judges[i] != nullptr) {
      // Graded by the dispatch stage (an empty type), unless the reply cannot be graded.
      std::optional<evaluators::Evaluation> unusable = evaluators::unusable(spec, input);
      out.push_back(unusable ? std::move(*unusable) : e);
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

std::shared_ptr<const jsonschema::Validator>
CaseScorer::compiled_schema(const registry::ResolvedPrompt& prompt, const std::string& path,
                            bool format_assertion) {
  const std::string file = path.empty() ? prompt.prompt.output_schema : path;
  const std::string key =
      (path.empty() ? prompt.version + ":" : "") + file + "\x1f" + (format_assertion ? "1" : "0");
  if (auto it = m_schemas.find(key); it != m_schemas.end()) {
    return it->second;
  }
  const nlohmann::json schema = load_schema(prompt, path);
  jsonschema::CompileOptions options = registry_schema_options(m_plan.registry(), file);
  options.format_assertion = format_assertion;
  try {
    auto compiled = std::make_shared<const jsonschema::Validator>(
        jsonschema::Validator::compile(schema, options));
    m_schemas.emplace(key, compiled);
    return compiled;
  } catch (const jsonschema::SchemaError& e) {
    throw InputError("json_schema: " + m_plan.registry().display(file) +
                     " is not a valid schema: " + e.what());
  }
}

nlohmann::json CaseScorer::load_schema(const registry::ResolvedPrompt& prompt,
                                       const std::string& path) const {
  const registry::Registry& registry = m_plan.registry();
  std::string text;
  std::string shown;
  if (path.empty()) {
    if (!prompt.output_schema) {
      throw InputError("json_schema: prompt \"" + prompt.prompt.name +
                       "\" has no output_schema and the evaluator names no schema:");
    }
    text = *prompt.output_schema;
    shown = registry.display(prompt.prompt.output_schema);
  } else {
    auto t = registry.work_tree().read(path);
    if (!t) {
      throw InputError("json_schema: schema file " + registry.display(path) + " does not exist");
    }
    text = *t;
    shown = registry.display(path);
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    throw InputError("json_schema: " + shown + " is not JSON");
  }
  return j;
}

ScoringThread::ScoringThread(std::function<void(EndedCase&)> score)
    : m_score(std::move(score)), m_thread([this] { loop(); }) {}

ScoringThread::~ScoringThread() {
  close();
}

void ScoringThread::push(EndedCase ended) {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_room.wait(lock, [this] { return m_queue.size() < k_cases_to_score || m_failed.load(); });
  m_queue.push_back(std::move(ended));
  if (m_queue.size() == 1) {
    m_wake.notify_one(); // it may be waiting for work; otherwise it is busy
  }
}

void ScoringThread::close() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_closing = true;
  }
  m_wake.notify_one();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void ScoringThread::rethrow_if_failed() const {
  if (m_failed.load()) {
    std::rethrow_exception(m_error);
  }
}

void ScoringThread::loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  for (;;) {
    m_wake.wait(lock, [this] { return m_closing || !m_queue.empty(); });
    if (m_queue.empty()) {
      return; // closing, and every case written
    }
    EndedCase ended = std::move(m_queue.front());
    m_queue.pop_front();
    const bool was_full = m_queue.size() + 1 == k_cases_to_score;
    lock.unlock();
    if (was_full) {
      m_room.notify_one();
    }
    if (!m_failed.load()) {
      try {
        m_score(ended);
      } catch (...) {
        m_error = std::current_exception();
        m_failed.store(true);
        m_room.notify_one();
      }
    }
    lock.lock();
  }
}

} // namespace promptops::golden
