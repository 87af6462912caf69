#include "report/run_record.hpp"

#include "golden/result.hpp"
#include "registry/config.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/json_lines.hpp"
#include "util/lines.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <map>
#include <string_view>
#include <thread>

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

// summary.json's text as a RunSummary; InputError naming the file when it is not a JSON object
// or of a newer format_version.
golden::RunSummary summary_of(const std::string& text, const std::string& shown) {
  try {
    return golden::run_summary_from_json(parse_object(text, shown));
  } catch (const InputError& e) {
    if (!e.path().empty()) {
      throw;
    }
    throw InputError(shown, {}, e.problem());
  }
}

// Below this many lines a second thread costs more than it saves.
constexpr std::size_t k_threaded_lines = 4096;

// The bytes of `text` up to and including its `lines`th newline (all of it when it has fewer).
std::size_t prefix_of_lines(std::string_view text, std::size_t lines) {
  std::size_t end = 0;
  for (std::size_t n = 0; n < lines && end < text.size(); ++n) {
    const void* nl = std::memchr(text.data() + end, '\n', text.size() - end);
    end = nl == nullptr ? text.size()
                        : static_cast<std::size_t>(static_cast<const char*>(nl) - text.data()) + 1;
  }
  return end;
}

// The lines of `text`, a last one without its newline counted (even an empty one): no fewer than
// the results it holds.
std::size_t lines_in(std::string_view text) {
  std::size_t lines = 0;
  for (const char* at = text.data(); at != nullptr;) {
    const std::size_t left = text.size() - static_cast<std::size_t>(at - text.data());
    at = static_cast<const char*>(std::memchr(at, '\n', left));
    if (at != nullptr) {
      ++lines;
      ++at;
    }
  }
  return lines + 1;
}

// The results of `part` (whole lines of results.jsonl's `text`) appended to `out`, without
// their fingerprints. A last line cut short by a kill (no final newline, not JSON) is left out;
// InputError names the file and line of any other line that is not a JSON object, or of a
// newer format_version.
void append_results(std::string_view text, std::string_view part, const std::string& shown,
                    std::vector<golden::CaseResult>& out) {
  // A run killed mid-write leaves a last line without its newline: that case did not finish.
  const bool cut_short = !text.empty() && text.back() != '\n';
  const auto line_number = [text](std::string_view line) {
    return line_of(text, static_cast<std::size_t>(line.data() - text.data()));
  };
  // One line's JSON at a time, in the same object: the next line reuses the memory that the
  // last one's freeing gives back, where parsing many lines before freeing them kept the
  // allocator busy sorting the freed pieces.
  ordered_json value;
  util::for_each_line(part, [&](std::size_t, std::string_view line) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      return;
    }
    // The fingerprint (a third of a line) is for drift, which the reports do not compute.
    if (util::parse_json_object_line(line, value, {"fingerprint"})) {
      try {
        out.push_back(golden::case_result_from_json(std::move(value), golden::Fingerprints::skip));
      } catch (const InputError& e) { // a newer format_version
        throw InputError(shown, {line_number(line), 0}, e.problem());
      }
      return;
    }
    // The line cut short, if any, is the one that reaches the end of the text (its '\r' aside).
    if (cut_short && line.data() + line.size() + 1 >= text.data() + text.size()) {
      return;
    }
    const ordered_json j = ordered_json::parse(line, nullptr, false);
    throw InputError(shown, {line_number(line), 0},
                     j.is_discarded() ? "not valid JSON" : "not a JSON object");
  });
}

// results.jsonl's `text` as results, in order, read by append_results on two threads (the
// machines this runs on have two cores or more; converting a line costs about as much as
// parsing it): the second half's lines on a second thread, whose results are then moved after
// the first half's. The error of the earliest bad line is thrown.
std::vector<golden::CaseResult> read_results(const std::string& text, const std::string& shown) {
  const std::size_t lines = lines_in(text);
  const std::size_t half =
      lines < k_threaded_lines ? text.size() : prefix_of_lines(text, lines / 2);
  const std::string_view first(text.data(), half);
  const std::string_view second(text.data() + half, text.size() - half);
  std::vector<golden::CaseResult> results;
  results.reserve(lines);
  std::vector<golden::CaseResult> second_results;
  std::exception_ptr second_error;
  std::thread worker;
  if (!second.empty()) {
    second_results.reserve(lines - lines / 2);
    worker = std::thread([&] {
      try {
        append_results(text, second, shown, second_results);
      } catch (...) {
        second_error = std::current_exception();
      }
    });
  }
  std::exception_ptr first_error;
  try {
    append_results(text, first, shown, results);
  } catch (...) {
    first_error = std::current_exception();
  }
  if (worker.joinable()) {
    worker.join();
  }
  for (const std::exception_ptr& error : {first_error, second_error}) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
  results.insert(results.end(), std::make_move_iterator(second_results.begin()),
                 std::make_move_iterator(second_results.end()));
  return results;
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
  record.summary = summary_of(*summary_text, summary_path.string());
  if (run_text) {
    record.run = golden::run_start_from_json(parse_object(*run_text, run_path.string()));
  }
  if (!record.summary.run_id.empty()) {
    record.run_id = record.summary.run_id;
  }
  if (!results_text) {
    throw InputError(results_path.string(), {}, "missing: the run's results are gone");
  }
  record.results = read_results(*results_text, results_path.string());
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
  for (const golden::SuiteSummary& suite : record.summary.suites) {
    suite_files.emplace(suite.name, suite.file);
    for (const golden::CandidateEntry& c : suite.candidates) {
      find_or_add(suite.name, c.provider, c.prompt, c.prompt_version);
    }
  }
  // Results come in runs of one group: the previous line's group is tried first.
  std::size_t last = groups.size();
  for (const golden::CaseResult& r : record.results) {
    if (last == groups.size() || groups[last].suite != r.suite ||
        groups[last].provider != r.provider || groups[last].prompt != r.prompt ||
        groups[last].prompt_version != r.prompt_version) {
      last = find_or_add(r.suite, r.provider, r.prompt, r.prompt_version);
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
    const auto less = [](const golden::CaseResult* a, const golden::CaseResult* b) {
      return natural_less(a->id, b->id);
    };
    // Results of a replay or a cached rerun come in order already.
    if (!std::is_sorted(g.results.begin(), g.results.end(), less)) {
      std::stable_sort(g.results.begin(), g.results.end(), less);
    }
  }
  record.grouped = std::make_shared<const std::vector<ResultGroup>>(groups);
  record.grouped_for = record.results.data();
  return groups;
}

std::string group_name(const ResultGroup& group) {
  std::string name = group.suite + " on " + group.provider;
  if (group.shares_provider) {
    name += " (" + group.prompt + "@" + group.prompt_version.substr(0, 12) + ")";
  }
  return name;
}

std::string percent(double rate) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", rate * 100);
  return text;
}

std::string usage_line(const golden::RunSummary& summary, const std::string& after_label) {
  const auto money = [](const char* pattern, double cost) {
    char text[64];
    std::snprintf(text, sizeof text, pattern, cost);
    return std::string(text);
  };
  std::string out = "tokens" + after_label + std::to_string(summary.input_tokens) + " in, " +
                    std::to_string(summary.output_tokens) + " out";
  if (summary.cost) {
    out += " \xC2\xB7 cost" + after_label + money("$%.4f", *summary.cost);
  }
  out += " \xC2\xB7 requests" + after_label + std::to_string(summary.requests) + " (" +
         std::to_string(summary.cached) + " from the cache)";
  if (const golden::JudgeUsage& judge = summary.judge; judge.calls > 0) {
    out += " \xC2\xB7 judge calls" + after_label + std::to_string(judge.calls);
    if (judge.cost) {
      out += money(" ($%.4f)", *judge.cost);
    }
  }
  return out;
}

std::string suite_providers(const golden::SuiteSummary& suite) {
  std::vector<std::string> providers;
  for (const golden::CandidateEntry& c : suite.candidates) {
    if (std::find(providers.begin(), providers.end(), c.provider) == providers.end()) {
      providers.push_back(c.provider);
    }
  }
  std::string list;
  for (const auto& p : providers) {
    list += (list.empty() ? "" : ", ") + p;
  }
  return list;
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

std::vector<DriftGroup> drift_groups(const std::vector<golden::DriftEntry>& drift) {
  std::vector<DriftGroup> groups;
  for (const char* kind : registry::k_drift_kinds) {
    groups.push_back({kind, {}});
  }
  for (const golden::DriftEntry& entry : drift) {
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const DriftGroup& g) { return g.kind == entry.kind; });
    if (group == groups.end()) {
      groups.push_back({entry.kind, {}});
      group = groups.end() - 1;
    }
    group->entries.push_back(entry);
  }
  return groups;
}

} // namespace promptops::report
