#include "golden/run_plan.hpp"
#include "golden/runner.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/json_fields.hpp"
#include "util/lines.hpp"

#include <set>

// `promptops merge`: shards joined into one run, summarised by resuming it with no calls.
namespace promptops::golden {

using nlohmann::json;

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
      for (const char* key :
           {"suites", "provider", "filters", "prompt_versions", "evidence", "shard_count"}) {
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
          RunPlan::done_key(util::string_field(r, "suite"), util::string_field(r, "provider"),
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
  const std::string merged_id = make_run_folder(runs);
  const std::filesystem::path dir = runs / merged_id;
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

} // namespace promptops::golden
