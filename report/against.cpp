#include "report/against.hpp"

#include "golden/baseline.hpp"
#include "golden/compare.hpp"
#include "golden/fingerprint.hpp"
#include "golden/usage_drift.hpp"
#include "registry/config.hpp"
#include "util/error.hpp"
#include "util/json_fields.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace promptops::report {

namespace {

using nlohmann::ordered_json;

std::string pair_key(const std::string& suite, const std::string& provider) {
  std::string key = suite;
  key += '\x1f';
  key += provider;
  return key;
}

// RUN holds every case of its suites: not made with --filter, --provider or --shard, and not
// interrupted. Only then do OTHER's cases it lacks count as removed.
bool whole(const RunRecord& run) {
  if (!array_field(run.run, "filters").empty() ||
      !util::string_field(run.run, "provider").empty()) {
    return false;
  }
  if (const auto shards = run.run.find("shard_count");
      shards != run.run.end() && shards->is_number_integer() && shards->get<long long>() > 1) {
    return false;
  }
  return !true_field(run.summary, "interrupted");
}

// OTHER's refs by suite, provider, prompt and version, from its summary's candidates.
std::map<std::string, std::string> candidate_refs(const RunRecord& other) {
  std::map<std::string, std::string> refs;
  for (const auto& suite : array_field(other.summary, "suites")) {
    const std::string name = util::string_field(suite, "name");
    for (const auto& c : array_field(suite, "candidates")) {
      std::string key = pair_key(name, util::string_field(c, "provider"));
      key += '\x1f';
      key += util::string_field(c, "prompt");
      key += '\x1f';
      key += util::string_field(c, "prompt_version");
      refs.emplace(std::move(key), util::string_field(c, "ref"));
    }
  }
  return refs;
}

// The group of OTHER to compare `suite` on `provider` with: the lines of RUN's prompt there
// (RUN's candidates in order; of OTHER's groups of that prompt, the one with the same ref,
// else the first), else OTHER's first group of the suite on that provider. nullptr: none.
const ResultGroup* choose_group(const std::vector<ResultGroup>& other_groups,
                                const std::map<std::string, std::string>& other_refs,
                                const ordered_json& suite, const std::string& provider) {
  const std::string name = util::string_field(suite, "name");
  std::vector<const ResultGroup*> groups;
  for (const ResultGroup& g : other_groups) {
    if (g.suite == name && g.provider == provider) {
      groups.push_back(&g);
    }
  }
  if (groups.empty()) {
    return nullptr;
  }
  for (const auto& c : array_field(suite, "candidates")) {
    if (util::string_field(c, "provider") != provider) {
      continue;
    }
    const std::string prompt = util::string_field(c, "prompt");
    const std::string ref = util::string_field(c, "ref");
    const ResultGroup* same_prompt = nullptr;
    for (const ResultGroup* g : groups) {
      if (g->prompt != prompt) {
        continue;
      }
      std::string key = pair_key(g->suite, g->provider);
      key += '\x1f';
      key += g->prompt;
      key += '\x1f';
      key += g->prompt_version;
      const auto found = other_refs.find(key);
      if (found != other_refs.end() && found->second == ref) {
        return g;
      }
      if (same_prompt == nullptr) {
        same_prompt = g;
      }
    }
    if (same_prompt != nullptr) {
      return same_prompt;
    }
  }
  return groups.front();
}

// OTHER's lines of `group` as a baseline, their outputs added to `outputs`. A line in error or
// without an output is left out, as `promptops baseline record` would.
golden::Baseline baseline_of(const RunRecord& other, const ResultGroup& group,
                             BaselineOutputs& outputs) {
  golden::Baseline b;
  b.path = ".promptops/runs/";
  b.path += other.run_id;
  b.path += "/results.jsonl";
  b.shown = "run ";
  b.shown += other.run_id;
  std::vector<double> latencies; // of OTHER's uncached calls, in error or not
  for (const ordered_json* r : group.results) {
    if (const auto ms = golden::uncached_latency_ms(*r)) {
      latencies.push_back(*ms);
    }
    const auto output = r->find("output");
    const std::string* text = output == r->end() ? nullptr : output->get_ptr<const std::string*>();
    const std::string status = util::string_field(*r, "status");
    if (text == nullptr || status == "error") {
      continue;
    }
    golden::BaselineCase c;
    c.output = *text;
    if (!status.empty()) {
      c.status = status;
    }
    if (const auto score = r->find("score"); score != r->end() && score->is_number()) {
      c.score = score->get<double>();
    }
    c.model = util::string_field(*r, "model");
    c.system_fingerprint = util::string_field(*r, "system_fingerprint");
    c.usage = golden::token_usage_of(*r);
    if (const auto print = r->find("fingerprint"); print != r->end()) {
      c.print = golden::fingerprint_from_json(*print);
    }
    const std::string id = util::string_field(*r, "id");
    if (b.cases.emplace(id, std::move(c)).second) {
      outputs.outputs[{group.suite, group.provider, id}] = *text;
    }
  }
  b.latency = golden::summarize_latency(latencies, other.run_id);
  return b;
}

// The suite's gate as RUN recorded it (its totals and settings), before the comparison adds
// its regressions and drift.
golden::SuiteGate recorded_gate(const ordered_json& suite, const std::string& reference) {
  const auto old = suite.find("gate");
  const ordered_json recorded =
      old != suite.end() && old->is_object() ? *old : ordered_json::object();
  const auto totals = suite.find("totals");
  const ordered_json& t =
      totals != suite.end() && totals->is_object() ? *totals : ordered_json::object();
  golden::SuiteGate gate;
  gate.suite = util::string_field(suite, "name");
  gate.cases = count_field(t, "cases");
  gate.pass = count_field(t, "pass");
  gate.error = count_field(t, "error");
  if (const auto min = recorded.find("min_pass_rate"); min != recorded.end() && min->is_number()) {
    gate.min_pass_rate = min->get<double>();
  }
  if (const auto max = recorded.find("max_regressions");
      max != recorded.end() && max->is_number_integer()) {
    gate.max_regressions = max->get<long long>();
  }
  // A list of kinds; a summary.json of before the other kinds says true or false.
  if (const auto kinds = recorded.find("fail_on_drift"); kinds != recorded.end()) {
    gate.fail_on_drift = registry::drift_kinds(nlohmann::json(*kinds));
  }
  gate.drift_sensitivity =
      golden::parse_drift_sensitivity(util::string_field(recorded, "drift_sensitivity"))
          .value_or(golden::DriftSensitivity::standard);
  gate.reference = reference;
  return gate;
}

} // namespace

AgainstRun compare_runs(RunRecord run, const RunRecord& other, const registry::Config& config) {
  if (true_field(other.summary, "interrupted")) {
    throw InputError(std::string("run ") + other.run_id +
                     " was interrupted: the cases it lacks would look removed; complete it " +
                     "with promptops test --resume " + other.run_id + " first");
  }
  AgainstRun out;
  const std::vector<ResultGroup> other_groups = group_results(other);
  const std::map<std::string, std::string> other_refs = candidate_refs(other);
  ordered_json& summary = run.summary;

  // A baseline per suite and provider of RUN that OTHER has lines of, and its comparison.
  std::map<std::string, golden::Baseline> baselines; // suite \x1f provider
  std::map<std::string, golden::BaselineComparison> comparisons;
  for (const auto& suite : array_field(summary, "suites")) {
    const std::string name = util::string_field(suite, "name");
    for (const auto& c : array_field(suite, "candidates")) {
      const std::string provider = util::string_field(c, "provider");
      const std::string key = pair_key(name, provider);
      if (baselines.count(key) > 0) {
        continue;
      }
      const ResultGroup* group = choose_group(other_groups, other_refs, suite, provider);
      if (group == nullptr) {
        continue;
      }
      const golden::Baseline& b =
          baselines.emplace(key, baseline_of(other, *group, out.baseline)).first->second;
      comparisons.try_emplace(key, b);
    }
  }
  for (const auto& r : run.results) {
    const auto found = comparisons.find(
        pair_key(util::string_field(r, "suite"), util::string_field(r, "provider")));
    if (found != comparisons.end()) {
      found->second.add(r);
    }
  }

  // The summary's comparison fields and gates, as `promptops test` makes them.
  const bool complete = whole(run);
  const bool interrupted = true_field(summary, "interrupted");
  bool gate_passed = true;
  ordered_json reasons = ordered_json::array();
  golden::RunComparisons compared;
  if (const auto suites = summary.find("suites"); suites != summary.end() && suites->is_array()) {
    for (auto& suite : *suites) {
      if (!suite.is_object()) {
        continue;
      }
      const std::string name = util::string_field(suite, "name");
      golden::SuiteGate gate = recorded_gate(suite, "run " + other.run_id);
      ordered_json entries = ordered_json::array();
      std::set<std::string> providers_seen;
      for (const auto& c : array_field(suite, "candidates")) {
        const std::string provider = util::string_field(c, "provider");
        if (!providers_seen.insert(provider).second) {
          continue;
        }
        if (const auto found = comparisons.find(pair_key(name, provider));
            found != comparisons.end()) {
          compared.add(name, provider, found->second, complete, entries, gate,
                       golden::pricing_of(config, provider));
        }
      }
      suite["baselines"] = std::move(entries);
      suite["gate"] = golden::gate_json(gate, reasons);
      gate_passed = gate_passed && suite["gate"]["passed"].get<bool>();
    }
  }
  if (interrupted) {
    // The run's own words for it, else those `promptops test` uses.
    std::string said = "the run was interrupted; finish it with --resume ";
    said += run.run_id;
    if (const auto gate = summary.find("gate"); gate != summary.end()) {
      for (const auto& reason : array_field(*gate, "reasons")) {
        const std::string* text = reason.get_ptr<const std::string*>();
        if (text != nullptr && text->rfind("the run was interrupted", 0) == 0) {
          said = *text;
          break;
        }
      }
    }
    reasons.push_back(std::move(said));
  }
  summary["regressions"] = std::move(compared.regressions);
  summary["fixed"] = std::move(compared.fixed);
  summary["drift"] = std::move(compared.drift);
  summary["provider_changes"] = std::move(compared.provider_changes);
  ordered_json gate;
  gate["passed"] = gate_passed && !interrupted;
  gate["reasons"] = std::move(reasons);
  summary["gate"] = std::move(gate);

  // "against" right after "run_id", where a reader of summary.json looks first.
  ordered_json rewritten = ordered_json::object();
  bool placed = false;
  for (auto& [key, value] : summary.items()) {
    if (key == "against") {
      continue;
    }
    rewritten[key] = std::move(value);
    if (key == "run_id") {
      rewritten["against"] = other.run_id;
      placed = true;
    }
  }
  if (!placed) {
    rewritten["against"] = other.run_id;
  }
  summary = std::move(rewritten);
  out.record = std::move(run);
  return out;
}

int verdict_exit_code(const nlohmann::ordered_json& summary) {
  const auto totals = summary.is_object() ? summary.find("totals") : summary.end();
  const bool errors = totals != summary.end() && count_field(*totals, "error") > 0;
  if (errors || true_field(summary, "interrupted")) {
    return 3;
  }
  const auto gate = summary.is_object() ? summary.find("gate") : summary.end();
  return gate != summary.end() && true_field(*gate, "passed") ? 0 : 1;
}

} // namespace promptops::report
