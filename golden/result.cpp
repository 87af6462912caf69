#include "golden/result.hpp"

#include "registry/config.hpp"
#include "util/error.hpp"
#include "util/json_fields.hpp"
#include "util/json_write.hpp"

#include <type_traits>

namespace promptops::golden {
namespace {

using nlohmann::ordered_json;

// Lenient readers of one member: what is missing or of another type leaves the default.
template <class T> std::optional<T> number_field(const ordered_json& object, const char* key) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number()) {
    return std::nullopt;
  }
  if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer() || (std::is_unsigned_v<T> && !it->is_number_unsigned())) {
      return std::nullopt;
    }
  }
  return it->get<T>();
}

std::size_t count_field(const ordered_json& object, const char* key) {
  return number_field<std::size_t>(object, key).value_or(0);
}

bool bool_field(const ordered_json& object, const char* key, bool otherwise) {
  if (!object.is_object()) {
    return otherwise;
  }
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() ? it->get<bool>() : otherwise;
}

const ordered_json& member(const ordered_json& object, const char* key) {
  static const ordered_json none;
  if (!object.is_object()) {
    return none;
  }
  const auto it = object.find(key);
  return it == object.end() ? none : *it;
}

// `f` on each object of the array `object[key]`; `Json` is const unless the items are to be
// moved from.
template <class Json, class F> void for_each_object(Json& object, const char* key, F&& f) {
  if (!object.is_object()) {
    return;
  }
  const auto array = object.find(key);
  if (array == object.end() || !array->is_array()) {
    return;
  }
  for (auto& item : *array) {
    if (item.is_object()) {
      f(item);
    }
  }
}

// The string member `key` of `object`, or "": moved out of `object` unless `Json` is const.
template <class Json> std::string take_string(Json& object, const char* key) {
  if (!object.is_object()) {
    return {};
  }
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return {};
  }
  if constexpr (std::is_const_v<Json>) {
    return it->template get_ref<const std::string&>();
  } else {
    return std::move(it->template get_ref<std::string&>());
  }
}

std::vector<std::string> strings_field(const ordered_json& object, const char* key) {
  std::vector<std::string> out;
  const ordered_json& array = member(object, key);
  if (array.is_array()) {
    for (const auto& item : array) {
      if (item.is_string()) {
        out.push_back(item.get<std::string>());
      }
    }
  }
  return out;
}

template <class T> ordered_json or_null(const std::optional<T>& value) {
  return value ? ordered_json(*value) : ordered_json(nullptr);
}

ordered_json or_null(const std::string& text) {
  return text.empty() ? ordered_json(nullptr) : ordered_json(text);
}

void check_format_version(const ordered_json& object, const char* what) {
  const auto version = number_field<long long>(object, "format_version");
  if (version && *version > k_results_format_version) {
    throw InputError(std::string(what) + " is of format_version " + std::to_string(*version) +
                     ", newer than this promptops reads (" +
                     std::to_string(k_results_format_version) + "): upgrade promptops");
  }
}

ordered_json totals_json(const CaseTotals& t) {
  ordered_json j;
  j["cases"] = t.cases;
  j["pass"] = t.pass;
  j["fail"] = t.fail;
  j["error"] = t.error;
  return j;
}

CaseTotals totals_from_json(const ordered_json& j) {
  return {count_field(j, "cases"), count_field(j, "pass"), count_field(j, "fail"),
          count_field(j, "error")};
}

ordered_json usage_json(std::int64_t input_tokens, std::int64_t output_tokens) {
  ordered_json usage;
  usage["input_tokens"] = input_tokens;
  usage["output_tokens"] = output_tokens;
  return usage;
}

ordered_json judge_json(const JudgeUsage& j) {
  ordered_json o;
  o["calls"] = j.calls;
  o["requests"] = j.requests;
  o["cached"] = j.cached;
  o["usage"] = usage_json(j.input_tokens, j.output_tokens);
  o["cost"] = or_null(j.cost);
  return o;
}

JudgeUsage judge_from_json(const ordered_json& j) {
  JudgeUsage out;
  out.calls = count_field(j, "calls");
  out.requests = count_field(j, "requests");
  out.cached = count_field(j, "cached");
  const ordered_json& usage = member(j, "usage");
  out.input_tokens = number_field<std::int64_t>(usage, "input_tokens").value_or(0);
  out.output_tokens = number_field<std::int64_t>(usage, "output_tokens").value_or(0);
  out.cost = number_field<double>(j, "cost");
  return out;
}

ordered_json evaluation_json(const EvaluationResult& e) {
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
  return ej;
}

template <class Json> EvaluationResult evaluation_from_json(Json& e) {
  EvaluationResult out;
  out.type = take_string(e, "type");
  // A missing or mistyped pass or required reads as the safe side for failure_reason: true.
  out.pass = bool_field(e, "pass", true);
  out.score = number_field<double>(e, "score").value_or(0);
  out.reason = take_string(e, "reason");
  out.required = bool_field(e, "required", true);
  out.error = bool_field(e, "error", false);
  return out;
}

ordered_json baseline_entry_json(const BaselineEntry& b) {
  ordered_json j;
  j["provider"] = b.provider;
  j["file"] = b.file;
  j["compared"] = b.compared;
  j["regressed"] = b.regressed;
  j["fixed"] = b.fixed;
  j["still_failing"] = b.still_failing;
  j["new"] = b.new_cases;
  j["removed"] = or_null(b.removed);
  j["changed_outputs"] = b.changed_outputs;
  j["mean_score_delta"] = or_null(b.mean_score_delta);
  return j;
}

BaselineEntry baseline_entry_from_json(const ordered_json& j) {
  BaselineEntry b;
  b.provider = util::string_field(j, "provider");
  b.file = util::string_field(j, "file");
  b.compared = count_field(j, "compared");
  b.regressed = strings_field(j, "regressed");
  b.fixed = strings_field(j, "fixed");
  b.still_failing = count_field(j, "still_failing");
  b.new_cases = count_field(j, "new");
  b.removed = number_field<std::size_t>(j, "removed");
  b.changed_outputs = count_field(j, "changed_outputs");
  b.mean_score_delta = number_field<double>(j, "mean_score_delta");
  return b;
}

ordered_json gate_json(const GateVerdict& g) {
  ordered_json j;
  j["passed"] = g.passed;
  j["min_pass_rate"] = g.min_pass_rate;
  j["max_regressions"] = or_null(g.max_regressions);
  j["fail_on_drift"] = g.fail_on_drift;
  j["drift_sensitivity"] = g.drift_sensitivity;
  j["reasons"] = g.reasons;
  return j;
}

GateVerdict gate_from_json(const ordered_json& j) {
  GateVerdict g;
  g.passed = bool_field(j, "passed", false);
  g.min_pass_rate = number_field<double>(j, "min_pass_rate").value_or(1.0);
  g.max_regressions = number_field<long long>(j, "max_regressions");
  // A list of kinds; a summary of before the other kinds says true or false.
  if (const ordered_json& kinds = member(j, "fail_on_drift"); !kinds.is_null()) {
    g.fail_on_drift = registry::drift_kinds(nlohmann::json(kinds));
  }
  if (const std::string s = util::string_field(j, "drift_sensitivity"); !s.empty()) {
    g.drift_sensitivity = s;
  }
  g.reasons = strings_field(j, "reasons");
  return g;
}

ordered_json suite_json(const SuiteSummary& s) {
  ordered_json sj;
  sj["name"] = s.name;
  sj["file"] = s.file;
  ordered_json cands = ordered_json::array();
  for (const auto& c : s.candidates) {
    ordered_json cj;
    cj["prompt"] = c.prompt;
    cj["ref"] = c.ref;
    cj["prompt_version"] = c.prompt_version;
    cj["provider"] = c.provider;
    cands.push_back(std::move(cj));
  }
  sj["candidates"] = std::move(cands);
  sj["totals"] = totals_json(s.totals);
  sj["pass_rate"] = or_null(s.totals.pass_rate());
  ordered_json baselines = ordered_json::array();
  for (const auto& b : s.baselines) {
    baselines.push_back(baseline_entry_json(b));
  }
  sj["baselines"] = std::move(baselines);
  sj["gate"] = gate_json(s.gate);
  return sj;
}

SuiteSummary suite_from_json(const ordered_json& j) {
  SuiteSummary s;
  s.name = util::string_field(j, "name");
  s.file = util::string_field(j, "file");
  for_each_object(j, "candidates", [&s](const ordered_json& c) {
    s.candidates.push_back({util::string_field(c, "prompt"), util::string_field(c, "ref"),
                            util::string_field(c, "prompt_version"),
                            util::string_field(c, "provider")});
  });
  s.totals = totals_from_json(member(j, "totals"));
  for_each_object(j, "baselines", [&s](const ordered_json& b) {
    s.baselines.push_back(baseline_entry_from_json(b));
  });
  s.gate = gate_from_json(member(j, "gate"));
  return s;
}

ordered_json drift_json(const DriftEntry& d) {
  ordered_json j;
  j["suite"] = d.suite;
  j["provider"] = d.provider;
  j["kind"] = d.kind;
  j["feature"] = d.feature;
  j["baseline"] = d.baseline;
  j["candidate"] = d.candidate;
  j["count"] = d.count;
  j["cases"] = d.cases;
  j["message"] = d.message;
  j["p_value"] = or_null(d.p_value);
  return j;
}

DriftEntry drift_from_json(const ordered_json& j) {
  DriftEntry d;
  d.suite = util::string_field(j, "suite");
  d.provider = util::string_field(j, "provider");
  if (const std::string kind = util::string_field(j, "kind"); !kind.empty()) {
    d.kind = kind;
  }
  d.feature = util::string_field(j, "feature");
  d.baseline = util::string_field(j, "baseline");
  d.candidate = util::string_field(j, "candidate");
  d.cases = strings_field(j, "cases");
  d.count = number_field<std::size_t>(j, "count").value_or(d.cases.size());
  d.message = util::string_field(j, "message");
  d.p_value = number_field<double>(j, "p_value");
  return d;
}

ordered_json provider_change_json(const ProviderChange& c) {
  ordered_json j;
  j["suite"] = c.suite;
  j["provider"] = c.provider;
  j["feature"] = c.feature;
  j["baseline"] = c.baseline;
  j["candidate"] = c.candidate;
  j["cases"] = c.cases;
  j["message"] = c.message;
  return j;
}

ProviderChange provider_change_from_json(const ordered_json& j) {
  return {util::string_field(j, "suite"),     util::string_field(j, "provider"),
          util::string_field(j, "feature"),   util::string_field(j, "baseline"),
          util::string_field(j, "candidate"), count_field(j, "cases"),
          util::string_field(j, "message")};
}

} // namespace

const char* to_string(CaseStatus status) {
  switch (status) {
  case CaseStatus::pass:
    return "pass";
  case CaseStatus::fail:
    return "fail";
  case CaseStatus::error:
    break;
  }
  return "error";
}

JudgeUsage& JudgeUsage::operator+=(const JudgeUsage& other) {
  calls += other.calls;
  requests += other.requests;
  cached += other.cached;
  input_tokens += other.input_tokens;
  output_tokens += other.output_tokens;
  if (other.cost) {
    cost = cost.value_or(0) + *other.cost;
  }
  return *this;
}

std::string failure_reason(const CaseResult& result) {
  if (result.status == CaseStatus::pass) {
    return {};
  }
  const EvaluationResult* first_failed = nullptr;
  for (const EvaluationResult& e : result.evaluations) {
    if (e.pass) {
      continue;
    }
    if (e.required) {
      return e.type + ": " + e.reason;
    }
    if (first_failed == nullptr) {
      first_failed = &e;
    }
  }
  if (first_failed != nullptr) {
    return first_failed->type + ": " + first_failed->reason;
  }
  return result.error.empty() ? "the case could not be run" : result.error;
}

std::optional<double> uncached_latency_ms(const CaseResult& result) {
  return result.cached ? std::nullopt : result.latency_ms;
}

ordered_json to_json(const CaseResult& r) {
  ordered_json o = ordered_json::object(); // SPEC's order, for people reading the file
  // Room for every member at once: growing the member vector copies each (const) key, which
  // was most of the cost of building a line.
  o.get_ref<ordered_json::object_t&>().reserve(24);
  o["id"] = r.id;
  o["suite"] = r.suite;
  o["prompt"] = r.prompt;
  o["provider"] = r.provider;
  o["model"] = or_null(r.model);
  o["prompt_version"] = r.prompt_version;
  o["output"] = or_null(r.output);
  o["finish_reason"] = or_null(std::string(reply::to_string(r.facts.finish_reason)));
  if (!r.facts.vendor_finish_reason.empty()) {
    o["vendor_finish_reason"] = r.facts.vendor_finish_reason;
  }
  if (!r.facts.refusal.empty()) {
    o["refusal"] = r.facts.refusal;
  }
  o["tool_calls"] = ordered_json(reply::to_json(r.facts.tool_calls));
  o["status"] = to_string(r.status);
  o["score"] = or_null(r.score);
  ordered_json evaluations = ordered_json::array();
  for (const EvaluationResult& e : r.evaluations) {
    evaluations.push_back(evaluation_json(e));
  }
  o["evaluations"] = std::move(evaluations);
  o["latency_ms"] = or_null(r.latency_ms);
  ordered_json usage = ordered_json::object();
  usage["input_tokens"] = or_null(r.usage.input_tokens);
  usage["output_tokens"] = or_null(r.usage.output_tokens);
  for (auto [key, count] : {std::pair{"cached_input_tokens", &r.usage.cached_input_tokens},
                            std::pair{"cache_write_tokens", &r.usage.cache_write_tokens},
                            std::pair{"reasoning_tokens", &r.usage.reasoning_tokens}}) {
    if (*count) {
      usage[key] = **count;
    }
  }
  o["usage"] = std::move(usage);
  o["cost"] = or_null(r.cost);
  o["fingerprint"] = r.fingerprint ? to_ordered_json(*r.fingerprint) : ordered_json(nullptr);
  o["system_fingerprint"] = or_null(r.system_fingerprint);
  o["attempts"] = r.attempts;
  o["cached"] = r.cached;
  if (r.judge) {
    o["judge"] = judge_json(*r.judge);
  }
  if (!r.notes.empty()) {
    o["notes"] = r.notes;
  }
  if (r.status == CaseStatus::error) {
    o["error"] = r.error;
  }
  o["format_version"] = k_results_format_version;
  return o;
}

std::string result_line(const CaseResult& result) {
  return util::dump_json(to_json(result));
}

namespace {

// case_result_from_json's one reading, copying from a const `Json`, else moving.
template <class Json> CaseResult read_case_result(Json& line, Fingerprints fingerprints) {
  check_format_version(line, "a result line");
  CaseResult r;
  r.id = take_string(line, "id");
  r.suite = take_string(line, "suite");
  r.prompt = take_string(line, "prompt");
  r.provider = take_string(line, "provider");
  r.model = take_string(line, "model");
  r.prompt_version = take_string(line, "prompt_version");
  if (member(line, "output").is_string()) {
    r.output = take_string(line, "output");
  }
  r.facts = reply::facts_from_json(static_cast<const ordered_json&>(line));
  const std::string_view status = util::string_view_field(line, "status");
  r.status = status == "pass"   ? CaseStatus::pass
             : status == "fail" ? CaseStatus::fail
                                : CaseStatus::error;
  r.score = number_field<double>(line, "score");
  if (const ordered_json& evaluations = member(line, "evaluations"); evaluations.is_array()) {
    r.evaluations.reserve(evaluations.size());
  }
  for_each_object(line, "evaluations",
                  [&r](auto& e) { r.evaluations.push_back(evaluation_from_json(e)); });
  r.latency_ms = number_field<double>(line, "latency_ms");
  r.usage = token_usage_of(line);
  r.cost = number_field<double>(line, "cost");
  if (fingerprints == Fingerprints::read) {
    if (const ordered_json& print = member(line, "fingerprint"); !print.is_null()) {
      r.fingerprint = fingerprint_from_json(print);
    }
  }
  r.system_fingerprint = take_string(line, "system_fingerprint");
  r.attempts = number_field<int>(line, "attempts").value_or(0);
  // A line without "cached" was not a call of this run: its latency is not one to compare.
  r.cached = bool_field(line, "cached", true);
  if (const ordered_json& judge = member(line, "judge"); judge.is_object()) {
    r.judge = judge_from_json(judge);
  }
  r.notes = strings_field(line, "notes");
  r.error = take_string(line, "error");
  return r;
}

} // namespace

CaseResult case_result_from_json(const ordered_json& line, Fingerprints fingerprints) {
  return read_case_result(line, fingerprints);
}

CaseResult case_result_from_json(ordered_json&& line, Fingerprints fingerprints) {
  return read_case_result(line, fingerprints);
}

RunStart run_start_from_json(const ordered_json& value) {
  RunStart start;
  start.started = util::string_field(value, "started");
  start.filters = strings_field(value, "filters");
  start.provider = util::string_field(value, "provider");
  start.shard_count = number_field<int>(value, "shard_count").value_or(0);
  return start;
}

void CaseTotals::add(CaseStatus status) {
  ++cases;
  switch (status) {
  case CaseStatus::pass:
    ++pass;
    break;
  case CaseStatus::fail:
    ++fail;
    break;
  case CaseStatus::error:
    ++error;
    break;
  }
}

std::optional<double> CaseTotals::pass_rate() const {
  if (cases == 0) {
    return std::nullopt;
  }
  return static_cast<double>(pass) / static_cast<double>(cases);
}

bool is_whole_run(const RunStart& start, const RunSummary& summary) {
  return start.filters.empty() && start.provider.empty() && start.shard_count <= 1 &&
         !summary.interrupted;
}

int exit_code(const RunSummary& summary) {
  if (summary.totals.error > 0 || summary.interrupted) {
    return 3;
  }
  return summary.gate_passed ? 0 : 1;
}

ordered_json to_json(const RunSummary& s) {
  ordered_json j;
  j["run_id"] = s.run_id;
  if (!s.against.empty()) {
    j["against"] = s.against; // right after run_id, where a reader looks first
  }
  ordered_json suites = ordered_json::array();
  for (const auto& suite : s.suites) {
    suites.push_back(suite_json(suite));
  }
  j["suites"] = std::move(suites);
  j["totals"] = totals_json(s.totals);
  j["pass_rate"] = or_null(s.totals.pass_rate());
  j["regressions"] = s.regressions;
  j["fixed"] = s.fixed;
  ordered_json drift = ordered_json::array();
  for (const auto& d : s.drift) {
    drift.push_back(drift_json(d));
  }
  j["drift"] = std::move(drift);
  ordered_json changes = ordered_json::array();
  for (const auto& c : s.provider_changes) {
    changes.push_back(provider_change_json(c));
  }
  j["provider_changes"] = std::move(changes);
  ordered_json gate;
  gate["passed"] = s.gate_passed;
  gate["reasons"] = s.gate_reasons;
  j["gate"] = std::move(gate);
  j["usage"] = usage_json(s.input_tokens, s.output_tokens);
  j["cost"] = or_null(s.cost);
  j["requests"] = s.requests;
  j["cached"] = s.cached;
  // Judges' calls, tokens and cost, apart from the candidates' above.
  j["judge"] = judge_json(s.judge);
  j["interrupted"] = s.interrupted;
  j["finished"] = s.finished;
  j["format_version"] = k_results_format_version;
  return j;
}

RunSummary run_summary_from_json(const ordered_json& value) {
  check_format_version(value, "summary.json");
  RunSummary s;
  s.format_version = number_field<int>(value, "format_version").value_or(1);
  s.run_id = util::string_field(value, "run_id");
  s.against = util::string_field(value, "against");
  for_each_object(value, "suites",
                  [&s](const ordered_json& suite) { s.suites.push_back(suite_from_json(suite)); });
  s.totals = totals_from_json(member(value, "totals"));
  s.regressions = strings_field(value, "regressions");
  s.fixed = strings_field(value, "fixed");
  for_each_object(value, "drift",
                  [&s](const ordered_json& d) { s.drift.push_back(drift_from_json(d)); });
  for_each_object(value, "provider_changes", [&s](const ordered_json& c) {
    s.provider_changes.push_back(provider_change_from_json(c));
  });
  const ordered_json& gate = member(value, "gate");
  s.gate_passed = bool_field(gate, "passed", false);
  s.gate_reasons = strings_field(gate, "reasons");
  const ordered_json& usage = member(value, "usage");
  s.input_tokens = number_field<std::int64_t>(usage, "input_tokens").value_or(0);
  s.output_tokens = number_field<std::int64_t>(usage, "output_tokens").value_or(0);
  s.cost = number_field<double>(value, "cost");
  s.requests = count_field(value, "requests");
  s.cached = count_field(value, "cached");
  s.judge = judge_from_json(member(value, "judge"));
  s.interrupted = bool_field(value, "interrupted", false);
  s.finished = util::string_field(value, "finished");
  return s;
}

} // namespace promptops::golden
