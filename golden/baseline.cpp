#include "golden/baseline.hpp"

#include "golden/result.hpp"
#include "reply/reply.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/json_fields.hpp"
#include "util/json_lines.hpp"
#include "util/json_write.hpp"
#include "util/lines.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <string_view>

namespace promptops::golden {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// The fields of a result line a baseline keeps, in SPEC's order. Timings, attempts and cache
// hits change on every run and would make each recorded baseline a noisy diff.
constexpr const char* k_kept[] = {"id",
                                  "provider",
                                  "model",
                                  "prompt",
                                  "prompt_version",
                                  "output",
                                  "tool_calls",
                                  "status",
                                  "score",
                                  "evaluations",
                                  "usage",
                                  "cost",
                                  "fingerprint",
                                  "system_fingerprint"};

// `result`'s line in a baseline: the members of its result line that a baseline keeps, with
// `fingerprint` (the result line's, as stored) in place of the result's.
std::string baseline_line(const CaseResult& result, ordered_json fingerprint) {
  ordered_json line = to_json(result);
  line["fingerprint"] = std::move(fingerprint);
  ordered_json kept = ordered_json::object();
  for (const char* key : k_kept) {
    if (const auto f = line.find(key); f != line.end()) {
      // A reply without tool calls (most) keeps its baseline line as it was before lines had
      // them: re-recording an unchanged suite diffs nothing.
      if (f->is_array() && f->empty() && std::string_view(key) == "tool_calls") {
        continue;
      }
      kept[key] = std::move(*f);
    }
  }
  return util::dump_json(kept);
}

// The run in `run_dir`'s summary; RunError when it did not finish or is not JSON.
RunSummary finished_summary(const std::filesystem::path& run_dir, const std::string& run_id) {
  auto text = util::read_file_if_exists(run_dir / "summary.json");
  if (!text) {
    throw RunError("run " + run_id + " did not finish (it has no summary.json): complete it " +
                   "with promptops test --resume " + run_id + " first");
  }
  const ordered_json summary = ordered_json::parse(*text, nullptr, false);
  if (!summary.is_object()) {
    throw RunError("run " + run_id + ": summary.json is not JSON");
  }
  return run_summary_from_json(summary);
}

} // namespace

std::string baseline_path(const std::string& suite, const std::string& provider) {
  return "golden/baselines/" + suite + "/" + provider + ".jsonl";
}

std::string latency_summary_path(const std::string& suite, const std::string& provider) {
  return "golden/baselines/" + suite + "/" + provider + ".latency.json";
}

std::optional<Baseline> load_baseline(const registry::Registry& registry, const std::string& suite,
                                      const std::string& provider, bool read_fingerprints) {
  Baseline b;
  b.path = baseline_path(suite, provider);
  b.shown = registry.display(b.path);
  auto text = util::read_file_if_exists(registry.root() / b.path, b.shown);
  if (!text) {
    return std::nullopt;
  }
  std::vector<util::JsonLine> lines = read_fingerprints
                                          ? util::parse_json_object_lines(*text)
                                          : util::parse_json_object_lines(*text, {"fingerprint"});
  for (util::JsonLine& line : lines) {
    const nlohmann::ordered_json j = line.parsed
                                         ? std::move(line.value)
                                         : nlohmann::ordered_json::parse(line.text, nullptr, false);
    const auto bad = [&](const std::string& problem) {
      throw InputError(b.shown, {line.number, 1}, problem);
    };
    if (!j.is_object()) {
      bad("a baseline line must be a JSON object {\"id\": ..., \"output\": ...}");
    }
    const auto id = j.find("id");
    if (id == j.end() || !id->is_string()) {
      bad("a baseline line needs a string \"id\"");
    }
    if (const auto p = j.find("provider"); p != j.end() && p->is_string() && *p != provider) {
      continue;
    }
    const auto output = j.find("output");
    if (output == j.end() || !output->is_string()) {
      bad("case \"" + id->get<std::string>() + "\": a baseline line needs a string \"output\"");
    }
    BaselineCase c;
    c.output = output->get<std::string>();
    if (const auto s = j.find("status"); s != j.end() && s->is_string()) {
      c.status = s->get<std::string>();
    }
    if (const auto s = j.find("score"); s != j.end() && s->is_number()) {
      c.score = s->get<double>();
    }
    c.model = util::string_field(j, "model");
    c.system_fingerprint = util::string_field(j, "system_fingerprint");
    c.usage = token_usage_of(j);
    if (const auto calls = j.find("tool_calls"); calls != j.end() && calls->is_array()) {
      c.tool_names = tool_names(reply::tool_calls_from_json(json(*calls)));
    }
    if (const auto print = j.find("fingerprint"); print != j.end()) {
      c.print = fingerprint_from_json(*print);
    }
    if (!b.cases.emplace(id->get<std::string>(), std::move(c)).second) {
      bad("case \"" + id->get<std::string>() + "\" is in the baseline twice");
    }
  }
  const std::string latency_path = latency_summary_path(suite, provider);
  const std::string latency_shown = registry.display(latency_path);
  if (auto latency = util::read_file_if_exists(registry.root() / latency_path, latency_shown)) {
    b.latency = latency_summary_from_json(json::parse(*latency, nullptr, false));
    if (!b.latency) {
      throw InputError(latency_shown, {1, 1},
                       "not a latency summary {\"calls\", \"p50_ms\", \"p95_ms\", \"run_id\"}: "
                       "record the baseline again (promptops baseline record)");
    }
  }
  return b;
}

std::vector<RecordedBaseline> record_baselines(const registry::Registry& registry,
                                               const std::filesystem::path& run_dir,
                                               const std::vector<std::string>& suites) {
  const std::string run_id = run_dir.filename().string();
  const RunSummary summary = finished_summary(run_dir, run_id);
  const RunStart run = run_start_from_json(ordered_json::parse(
      util::read_file_if_exists(run_dir / "run.json").value_or("{}"), nullptr, false));
  if (!run.filters.empty()) {
    throw InputError("run " + run_id + " ran only the cases matching --filter: a baseline " +
                     "needs every case of its suite");
  }
  if (summary.interrupted) {
    throw RunError("run " + run_id + " was interrupted: complete it with promptops test " +
                   "--resume " + run_id + " first");
  }

  // Per suite and provider, the candidate to record: the working tree's prompt, else the
  // first.
  struct Chosen {
    std::string prompt;
    std::string version;
    bool work_tree = false;
  };
  std::map<std::string, Chosen> chosen; // suite \x1f provider
  std::set<std::string> run_suites;
  for (const SuiteSummary& s : summary.suites) {
    run_suites.insert(s.name);
    if (!suites.empty() && std::find(suites.begin(), suites.end(), s.name) == suites.end()) {
      continue;
    }
    for (const CandidateEntry& c : s.candidates) {
      const std::string key = s.name + '\x1f' + c.provider;
      const bool work_tree = c.ref.empty();
      const auto it = chosen.find(key);
      if (it == chosen.end() || (work_tree && !it->second.work_tree)) {
        chosen[key] = {c.prompt, c.prompt_version, work_tree};
      }
    }
  }
  for (const auto& name : suites) {
    if (!run_suites.count(name)) {
      throw InputError("run " + run_id + " did not run suite \"" + name + "\"");
    }
  }

  // The lines to write, by file, by case id (sorted: a re-recorded baseline diffs cleanly).
  std::map<std::string, std::map<std::string, std::string>> files;
  // The uncached calls' latencies of the recorded lines, by latency summary file.
  std::map<std::string, std::vector<double>> latencies;
  std::size_t errors = 0;
  const std::string results = util::read_file(run_dir / "results.jsonl");
  util::for_each_line(results, [&](std::size_t line_number, std::string_view text) {
    ordered_json line = ordered_json::parse(text, nullptr, false);
    if (!line.is_object()) {
      return;
    }
    // The fingerprint is copied as stored: reading it back would cost more than the rest of
    // the line and give the same JSON.
    ordered_json fingerprint;
    if (const auto f = line.find("fingerprint"); f != line.end()) {
      fingerprint = std::move(*f);
    }
    CaseResult r;
    try {
      r = case_result_from_json(std::move(line), Fingerprints::skip);
    } catch (const InputError& e) { // a newer format_version
      throw InputError((run_dir / "results.jsonl").string(), {line_number, 1}, e.problem());
    }
    const auto it = chosen.find(r.suite + '\x1f' + r.provider);
    if (it == chosen.end() || it->second.prompt != r.prompt ||
        it->second.version != r.prompt_version) {
      return;
    }
    if (const auto ms = uncached_latency_ms(r)) {
      latencies[latency_summary_path(r.suite, r.provider)].push_back(*ms);
    }
    if (r.status == CaseStatus::error || !r.output) {
      ++errors;
      return;
    }
    files[baseline_path(r.suite, r.provider)].emplace(r.id,
                                                      baseline_line(r, std::move(fingerprint)));
  });
  if (errors > 0) {
    throw RunError("run " + run_id + " has " + std::to_string(errors) +
                   " cases in error (no output to record): a baseline with holes would report "
                   "them as removed; rerun them first");
  }

  std::vector<RecordedBaseline> written;
  for (const auto& [path, lines] : files) {
    std::string text;
    for (const auto& [id, line] : lines) {
      text += line + "\n";
    }
    const std::filesystem::path file = registry.root() / path;
    RecordedBaseline r;
    r.shown = registry.display(path);
    r.cases = lines.size();
    r.replaced = std::filesystem::exists(file);
    std::filesystem::create_directories(file.parent_path());
    util::write_file_atomic(file, text);
    written.push_back(std::move(r));
  }
  // A run that took every answer from the cache says nothing of latency: the summary of the
  // run that made the calls stays.
  for (const auto& [path, values] : latencies) {
    if (const auto latency = summarize_latency(values, run_id)) {
      util::write_file_atomic(registry.root() / path, to_json(*latency).dump(2) + "\n");
    }
  }
  return written;
}

std::optional<std::filesystem::path> latest_run(const registry::Registry& registry) {
  const std::filesystem::path runs = registry.root() / ".promptops" / "runs";
  std::error_code ec;
  std::optional<std::filesystem::path> newest;
  std::filesystem::file_time_type newest_time;
  for (const auto& e : std::filesystem::directory_iterator(runs, ec)) {
    const auto record = e.path() / "run.json";
    std::error_code time_ec;
    const auto t = std::filesystem::last_write_time(record, time_ec);
    if (!time_ec && (!newest || t > newest_time)) {
      newest = e.path();
      newest_time = t;
    }
  }
  return newest;
}

std::filesystem::path run_folder(const registry::Registry& registry, const std::string& id,
                                 const std::string& purpose) {
  const std::string runs = registry.display(".promptops/runs");
  if (id.empty()) {
    if (auto latest = latest_run(registry)) {
      return *latest;
    }
    throw InputError("no run" + purpose + " in " + runs + ": run promptops test first");
  }
  const std::filesystem::path dir = registry.root() / ".promptops" / "runs" / id;
  if (id.find('/') != std::string::npos || id == "." || id == ".." ||
      !std::filesystem::exists(dir / "run.json")) {
    throw InputError("no run \"" + id + "\" in " + runs);
  }
  return dir;
}

} // namespace promptops::golden
