#include "report/run_record.hpp"

#include "golden/result.hpp"
#include "registry/config.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/json_fields.hpp"
#include "util/json_lines.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace promptops::report {

namespace {

using nlohmann::ordered_json;

// The 1-based line of byte `offset` in `text`.
std::size_t line_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(
                 text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

// `text` parsed as a JSON object; InputError at the place nlohmann stopped otherwise.
ordered_json parse_object(const std::string& text, const std::string& shown) {
  ordered_json j;
  try {
    j = ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    const std::size_t at = e.byte == 0 ? 0 : e.byte - 1;
    throw InputError(shown, {line_of(text, at), 0}, "not valid JSON");
  } catch (const nlohmann::json::out_of_range&) { // a number beyond a double: 1e400
    throw InputError(shown, {}, "not valid JSON: a number too large");
  }
  if (!j.is_object()) {
    throw InputError(shown, {}, "not a JSON object");
  }
  return j;
}

} // namespace

RunRecord load_run(const std::filesystem::path& dir) {
  RunRecord record;
  record.dir = dir;
  record.run_id = dir.filename().string();
  if (record.run_id.empty()) {
    record.run_id = dir.parent_path().filename().string(); // "runs/<id>/"
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw InputError(dir.string(), {}, "no such run folder");
  }

  const std::filesystem::path run_path = dir / "run.json";
  const std::filesystem::path summary_path = dir / "summary.json";
  const std::filesystem::path results_path = dir / "results.jsonl";

  const auto run_text = util::read_file_if_exists(run_path);
  const auto summary_text = util::read_file_if_exists(summary_path);
  const auto results_text = util::read_file_if_exists(results_path);
  if (!run_text && !summary_text && !results_text) {
    throw InputError(dir.string(), {},
                     "not a run folder (it has no run.json, summary.json or results.jsonl)");
  }
  if (!summary_text) {
    throw InputError(summary_path.string(), {},
                     "missing: run " + record.run_id +
                         " did not finish (complete it with promptops test --resume " +
                         record.run_id + ")");
  }
  record.summary = parse_object(*summary_text, summary_path.string());
  record.run = run_text ? parse_object(*run_text, run_path.string()) : ordered_json::object();
  if (const std::string id = util::string_field(record.summary, "run_id"); !id.empty()) {
    record.run_id = id;
  }
  if (!results_text) {
    throw InputError(results_path.string(), {}, "missing: the run's results are gone");
  }

  const std::string& text = *results_text;
  // A run killed mid-write leaves a last line without its newline: that case did not finish.
  const bool cut_short = !text.empty() && text.back() != '\n';
  // The fingerprint (a third of a line) is for drift, which the reports do not compute.
  std::vector<util::JsonLine> lines = util::parse_json_object_lines(text, {"fingerprint"});
  // The line cut short, if any, is the one that reaches the end of the text (its '\r' aside).
  const auto is_last = [end = text.data() + text.size()](const util::JsonLine& line) {
    return line.text.data() + line.text.size() + 1 >= end;
  };
  record.results.reserve(lines.size());
  for (util::JsonLine& line : lines) {
    if (line.parsed) {
      record.results.push_back(std::move(line.value));
      continue;
    }
    if (cut_short && is_last(line)) {
      continue;
    }
    const ordered_json j = ordered_json::parse(line.text, nullptr, false);
    throw InputError(results_path.string(), {line.number, 0},
                     j.is_discarded() ? "not valid JSON" : "not a JSON object");
  }
  return record;
}

namespace {

// Compare case ids with runs of digits as numbers, so "c2" comes before "c10".
bool natural_less(std::string_view a, std::string_view b) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      std::size_t ie = i;
      std::size_t je = j;
      while (ie < a.size() && is_digit(a[ie])) {
        ++ie;
      }
      while (je < b.size() && is_digit(b[je])) {
        ++je;
      }
      std::string_view na = a.substr(i, ie - i);
      std::string_view nb = b.substr(j, je - j);
      while (na.size() > 1 && na.front() == '0') {
        na.remove_prefix(1);
      }
      while (nb.size() > 1 && nb.front() == '0') {
        nb.remove_prefix(1);
      }
      if (na.size() != nb.size()) {
        return na.size() < nb.size();
      }
      if (na != nb) {
        return na < nb;
      }
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) {
        return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      }
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) {
    return (a.size() - i) < (b.size() - j);
  }
  return a < b; // "c01" and "c1": any fixed order
}

std::string group_key(const std::string& suite, const std::string& provider,
                      const std::string& prompt, const std::string& version) {
  return suite + '\x1f' + provider + '\x1f' + prompt + '\x1f' + version;
}

} // namespace

std::vector<ResultGroup> group_results(const RunRecord& record) {
  if (record.grouped && record.grouped_for == record.results.data()) {
    return *record.grouped;
  }
  std::vector<ResultGroup> groups;
  std::map<std::string, std::size_t> index;
  const auto find_or_add = [&](const std::string& suite, const std::string& provider,
                               const std::string& prompt, const std::string& version) {
    const std::string key = group_key(suite, provider, prompt, version);
    auto [it, added] = index.try_emplace(key, groups.size());
    if (added) {
      ResultGroup g;
      g.suite = suite;
      g.provider = provider;
      g.prompt = prompt;
      g.prompt_version = version;
      groups.push_back(std::move(g));
    }
    return it->second;
  };

  std::map<std::string, std::string> suite_files;
  if (const auto s = record.summary.find("suites"); s != record.summary.end() && s->is_array()) {
    for (const auto& suite : *s) {
      const std::string name = util::string_field(suite, "name");
      suite_files.emplace(name, util::string_field(suite, "file"));
      if (const auto c = suite.find("candidates"); c != suite.end() && c->is_array()) {
        for (const auto& cand : *c) {
          find_or_add(name, util::string_field(cand, "provider"),
                      util::string_field(cand, "prompt"),
                      util::string_field(cand, "prompt_version"));
        }
      }
    }
  }
  // Results come in runs of one group: the previous line's group is tried first.
  std::size_t last = groups.size();
  for (const auto& r : record.results) {
    const std::string_view suite = util::string_view_field(r, "suite");
    const std::string_view provider = util::string_view_field(r, "provider");
    const std::string_view prompt = util::string_view_field(r, "prompt");
    const std::string_view version = util::string_view_field(r, "prompt_version");
    if (last == groups.size() || groups[last].suite != suite || groups[last].provider != provider ||
        groups[last].prompt != prompt || groups[last].prompt_version != version) {
      last = find_or_add(std::string(suite), std::string(provider), std::string(prompt),
                         std::string(version));
    }
    groups[last].results.push_back(&r);
  }

  std::erase_if(groups, [](const ResultGroup& g) { return g.results.empty(); });
  std::map<std::string, std::size_t> per_provider;
  for (const auto& g : groups) {
    ++per_provider[g.suite + '\x1f' + g.provider];
  }
  for (auto& g : groups) {
    g.shares_provider = per_provider[g.suite + '\x1f' + g.provider] > 1;
    if (const auto f = suite_files.find(g.suite); f != suite_files.end()) {
      g.suite_file = f->second;
    }
    // Sorted by id, each id looked up once.
    std::vector<std::pair<std::string_view, const nlohmann::ordered_json*>> by_id;
    by_id.reserve(g.results.size());
    for (const nlohmann::ordered_json* r : g.results) {
      by_id.emplace_back(util::string_view_field(*r, "id"), r);
    }
    const auto less = [](const auto& a, const auto& b) { return natural_less(a.first, b.first); };
    // Results of a replay or a cached rerun come in order already.
    if (!std::is_sorted(by_id.begin(), by_id.end(), less)) {
      std::stable_sort(by_id.begin(), by_id.end(), less);
    }
    for (std::size_t i = 0; i < by_id.size(); ++i) {
      g.results[i] = by_id[i].second;
    }
  }
  record.grouped = std::make_shared<const std::vector<ResultGroup>>(groups);
  record.grouped_for = record.results.data();
  return groups;
}

std::string failure_reason(const nlohmann::ordered_json& result) {
  return golden::failure_reason(golden::case_result_from_json(result, golden::Fingerprints::skip));
}

std::string group_name(const ResultGroup& group) {
  std::string name = group.suite + " on " + group.provider;
  if (group.shares_provider) {
    name += " (" + group.prompt + "@" + group.prompt_version.substr(0, 12) + ")";
  }
  return name;
}

const nlohmann::ordered_json& array_field(const nlohmann::ordered_json& object, const char* key) {
  static const nlohmann::ordered_json empty = nlohmann::ordered_json::array();
  const auto it = object.is_object() ? object.find(key) : object.end();
  return it != object.end() && it->is_array() ? *it : empty;
}

bool true_field(const nlohmann::ordered_json& object, const char* key) {
  const auto it = object.is_object() ? object.find(key) : object.end();
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::size_t count_field(const nlohmann::ordered_json& object, const char* key) {
  const auto it = object.is_object() ? object.find(key) : object.end();
  return it != object.end() && it->is_number_unsigned() ? it->get<std::size_t>() : 0;
}

std::string percent(double rate) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", rate * 100);
  return text;
}

std::string suite_providers(const nlohmann::ordered_json& suite) {
  std::vector<std::string> providers;
  for (const auto& c : array_field(suite, "candidates")) {
    const std::string p = util::string_field(c, "provider");
    if (std::find(providers.begin(), providers.end(), p) == providers.end()) {
      providers.push_back(p);
    }
  }
  std::string list;
  for (const auto& p : providers) {
    list += (list.empty() ? "" : ", ") + p;
  }
  return list;
}

std::string drift_kind(const nlohmann::ordered_json& entry) {
  const std::string kind = util::string_field(entry, "kind");
  return kind.empty() ? "format" : kind;
}

std::string drift_heading(const std::string& kind) {
  if (kind == "format") {
    return "Format drift";
  }
  if (kind == "tokens") {
    return "Token drift";
  }
  if (kind == "cost") {
    return "Cost drift";
  }
  if (kind == "latency") {
    return "Latency drift";
  }
  return "Drift (" + kind + ")";
}

std::vector<DriftGroup> drift_groups(const nlohmann::ordered_json& drift) {
  std::vector<DriftGroup> groups;
  for (const char* kind : registry::k_drift_kinds) {
    groups.push_back({kind});
  }
  if (!drift.is_array()) {
    return groups;
  }
  for (const auto& entry : drift) {
    const std::string kind = drift_kind(entry);
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const DriftGroup& g) { return g.kind == kind; });
    if (group == groups.end()) {
      groups.push_back({kind});
      group = groups.end() - 1;
    }
    group->entries.push_back(entry);
  }
  return groups;
}

} // namespace promptops::report
