#include "golden/evidence.hpp"

#include "golden/suite.hpp"
#include "util/file.hpp"
#include "util/json_fields.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace promptops::golden {

using nlohmann::json;

EvidenceCheck find_evidence(const registry::Registry& registry, const std::string& name,
                            const std::string& version) {
  EvidenceCheck check;
  for (const auto& suite : suite_names_from_paths(registry.work_tree().list("golden", ".yaml"))) {
    const std::string path = "golden/" + suite + ".yaml";
    const Suite parsed = parse_suite(suite, *registry.work_tree().read(path), path,
                                     registry.display(path), registry.config());
    if (std::any_of(parsed.candidates.begin(), parsed.candidates.end(),
                    [&](const Candidate& c) { return c.prompt.name == name; })) {
      check.covering.push_back(suite);
    }
  }
  std::sort(check.covering.begin(), check.covering.end());

  // suite -> (when its run was written, the evidence)
  std::map<std::string, std::pair<std::filesystem::file_time_type, SuiteEvidence>> best;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(registry.root() / ".promptops" / "runs", ec)) {
    const auto run_text = util::read_file_if_exists(entry.path() / "run.json");
    const auto summary_text = util::read_file_if_exists(entry.path() / "summary.json");
    if (!run_text || !summary_text) {
      continue;
    }
    const json run = json::parse(*run_text, nullptr, false);
    const json summary = json::parse(*summary_text, nullptr, false);
    if (!run.is_object() || !summary.is_object() || summary.value("interrupted", true) ||
        !run.value("filters", json::array()).empty() ||
        !util::string_field(run, "provider").empty() || run.value("shard_count", 0) > 1) {
      continue;
    }
    std::error_code time_ec;
    const auto written = std::filesystem::last_write_time(entry.path() / "summary.json", time_ec);
    for (const auto& s : summary.value("suites", json::array())) {
      const std::string suite = util::string_field(s, "name");
      if (!std::binary_search(check.covering.begin(), check.covering.end(), suite) ||
          !s.contains("gate") || !s["gate"].value("passed", false)) {
        continue;
      }
      const auto& candidates = s.value("candidates", json::array());
      if (std::none_of(candidates.begin(), candidates.end(), [&](const json& c) {
            return util::string_field(c, "prompt") == name &&
                   util::string_field(c, "prompt_version") == version;
          })) {
        continue;
      }
      auto it = best.find(suite);
      if (it != best.end() && it->second.first >= written) {
        continue;
      }
      SuiteEvidence e;
      e.suite = suite;
      e.run_id = util::string_field(summary, "run_id");
      e.pass_rate = s.value("pass_rate", 0.0);
      for (const auto& b : s.value("baselines", json::array())) {
        e.regressions += b.value("regressed", json::array()).size();
      }
      for (const auto& d : summary.value("drift", json::array())) {
        e.drift += util::string_field(d, "suite") == suite ? 1 : 0;
      }
      best[suite] = {written, e};
    }
  }
  for (const auto& suite : check.covering) {
    if (auto it = best.find(suite); it != best.end()) {
      check.found.push_back(it->second.second);
    } else {
      check.missing.push_back(suite);
    }
  }
  return check;
}

} // namespace promptops::golden
