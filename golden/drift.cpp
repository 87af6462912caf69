#include "golden/drift.hpp"

#include "golden/statistics.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

namespace promptops::golden {

namespace {

using json = nlohmann::json;
namespace text = util::text;

// Findings come in this order: the order of docs/drift.md. Features that a newer promptops
// may have written follow, sorted by name.
// Tools first: calling tools instead of answering changes more than any form of text, and the
// gate quotes the first finding.
constexpr std::array<std::string_view, 23> k_order = {"tools",
                                                      "json",
                                                      "json_shape",
                                                      "key_case",
                                                      "code_fence",
                                                      "whole_fence",
                                                      "preamble",
                                                      "trailing_text",
                                                      "opener",
                                                      "answer_tag",
                                                      "answer_tag_style",
                                                      "boxed",
                                                      "refusal",
                                                      "hedge",
                                                      "headings",
                                                      "list_marker",
                                                      "table",
                                                      "bold",
                                                      "quotes",
                                                      "leading_whitespace",
                                                      "trailing_whitespace",
                                                      "length",
                                                      "lines"};

// Changes of a numeric feature's median smaller than this are never drift, whatever the ratio.
double min_difference(std::string_view feature) {
  if (feature == "length") {
    return 10;
  }
  return feature == "lines" ? 2 : 0;
}

std::string count_of(std::size_t k, std::size_t n) {
  return std::to_string(k) + " of " + std::to_string(n);
}

std::string show_number(double x) {
  if (std::abs(x - std::round(x)) < 1e-9) {
    return std::to_string(static_cast<long long>(std::llround(x)));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", x);
  return buffer;
}

// A value from a fingerprint (maybe from a stored file) made short and printable.
std::string show(std::string_view value, std::size_t max_chars = 60) {
  return text::shorten(value, max_chars);
}

// The shape signature compared: key names without case, "_" and "-", so that a change of key
// case (reported as key_case) is not also a change of shape.
std::string normalize_shape(std::string_view shape) {
  std::string out;
  out.reserve(shape.size());
  for (const char c : shape) {
    if (c == '_' || c == '-') {
      continue;
    }
    out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

// One side's values of a categorical feature.
struct Tally {
  std::size_t defined = 0;
  std::map<std::string, std::size_t, std::less<>> counts; // compared value -> outputs
  std::map<std::string, std::string> original; // compared value -> its most common raw value
};

// Counts by value without copying a value per output: a run may have 100,000.
template <class Map> void count(Map& map, std::string_view key) {
  auto it = map.find(key);
  if (it == map.end()) {
    it = map.emplace(std::string(key), 0).first;
  }
  ++it->second;
}

// One side's features, gathered in one pass over each fingerprint (looking each feature up in
// 100,000 fingerprints in turn is slow: every lookup misses the cache).
struct Side {
  std::map<std::string, Tally, std::less<>> categorical;
  std::map<std::string, std::vector<double>, std::less<>> numeric;
};

Side gather(const std::vector<const Fingerprint*>& fps) {
  Side side;
  std::map<std::string, std::map<std::string, std::size_t, std::less<>>> raw_shapes;
  for (const Fingerprint* print : fps) {
    const Fingerprint& fp = *print;
    auto tally = side.categorical.begin();
    for (const auto& [name, value] : fp.categorical) {
      // Names come sorted: try the next tally before searching.
      tally = tally != side.categorical.end() && tally->first == name
                  ? tally
                  : side.categorical.try_emplace(name).first;
      Tally& t = tally->second;
      ++tally;
      ++t.defined;
      if (name == "json_shape") {
        const std::string key = normalize_shape(value);
        count(t.counts, key);
        count(raw_shapes[key], value);
      } else {
        count(t.counts, value);
      }
    }
    for (const auto& [name, value] : fp.numeric) {
      auto it = side.numeric.find(name);
      if (it == side.numeric.end()) {
        it = side.numeric.try_emplace(name).first;
      }
      it->second.push_back(value);
    }
  }
  if (const auto shapes = side.categorical.find("json_shape"); shapes != side.categorical.end()) {
    for (const auto& [key, raws] : raw_shapes) {
      shapes->second.original[key] =
          std::max_element(raws.begin(), raws.end(), [](const auto& x, const auto& y) {
            return x.second < y.second;
          })->first;
    }
  }
  return side;
}

std::size_t count_in(const Tally& t, const std::string& value) {
  const auto it = t.counts.find(value);
  return it == t.counts.end() ? 0 : it->second;
}

// What the outputs with `value` of `feature` show, as a most common excerpt ("Sure! Here
// is…") and whether most of them hold JSON.
struct Evidence {
  std::string excerpt;
  bool json = false;
};

Evidence evidence(const std::vector<const Fingerprint*>& fps, std::string_view feature,
                  const std::string& value, std::string_view excerpt_name) {
  std::map<std::string, std::size_t, std::less<>> excerpts;
  std::size_t with = 0;
  std::size_t with_json = 0;
  for (const Fingerprint* print : fps) {
    const Fingerprint& fp = *print;
    const auto v = fp.category(feature);
    if (!v || *v != value) {
      continue;
    }
    ++with;
    with_json += fp.category("json").value_or("none") != "none";
    if (const auto it = fp.excerpts.find(excerpt_name); it != fp.excerpts.end()) {
      count(excerpts, it->second);
    }
  }
  Evidence e;
  e.json = with > 0 && 2 * with_json >= with;
  if (!excerpts.empty()) {
    e.excerpt =
        std::max_element(excerpts.begin(), excerpts.end(), [](const auto& x, const auto& y) {
          return x.second < y.second;
        })->first;
  }
  return e;
}

// How a feature is put into words.
struct Wording {
  std::string_view neutral;    // the value that means "absent" ("none", "no"), or ""
  std::string_view label;      // "JSON keys" for "... changed from A to B", or "" for none
  std::string_view population; // who has the feature when not every output does
  std::string_view excerpt;    // the excerpt that illustrates a value
};

Wording wording(std::string_view feature) {
  static const std::map<std::string_view, Wording> k_wordings = {
      {"json", {"none", "the top-level JSON type", "", ""}},
      {"json_shape", {"", "", "JSON outputs", ""}},
      {"key_case", {"", "JSON keys", "JSON outputs", ""}},
      {"code_fence", {"none", "code fences", "", ""}},
      {"whole_fence", {"no", "", "fenced outputs", ""}},
      {"preamble", {"no", "", "outputs with JSON or a code fence", "preamble"}},
      {"trailing_text", {"no", "", "outputs with JSON or a code fence", "trailing_text"}},
      {"opener", {"no", "", "outputs without JSON or a code fence", "opener"}},
      {"answer_tag", {"none", "", "", "answer_tag"}},
      {"answer_tag_style", {"", "answer tags", "outputs with an answer tag", "answer_tag"}},
      {"boxed", {"none", "", "", ""}},
      {"refusal", {"no", "", "", "refusal"}},
      {"hedge", {"no", "", "", "hedge"}},
      {"headings", {"no", "", "", ""}},
      {"list_marker", {"none", "list markers", "", ""}},
      {"table", {"no", "", "", ""}},
      {"bold", {"no", "", "", ""}},
      {"quotes", {"", "quote characters", "outputs with quotation marks", ""}},
      {"leading_whitespace", {"none", "leading whitespace", "", ""}},
      {"trailing_whitespace", {"none", "trailing whitespace", "", ""}},
  };
  const auto it = k_wordings.find(feature);
  return it == k_wordings.end() ? Wording{"", "", "", ""} : it->second;
}

// A short name of `value` for "changed from A to B" and the candidate field.
std::string display(std::string_view feature, const std::string& value) {
  if (feature == "code_fence") {
    if (value == "none") {
      return "no fence";
    }
    if (value == "fenced") {
      return "``` (no language tag)";
    }
    return "```" + show(value.substr(std::min<std::size_t>(value.size(), 7)), 20);
  }
  if (feature == "list_marker" && value != "none" && value != "mixed") {
    return "\"" + show(value, 8) + "\"";
  }
  if (feature == "leading_whitespace" || feature == "trailing_whitespace") {
    return value == "newline" ? "a line break" : value == "space" ? "spaces" : "none";
  }
  if (feature == "boxed" && value != "none") {
    return "\\boxed{} " + show(value, 20);
  }
  if (feature == "answer_tag" && value != "none") {
    return "tag " + show(value, 20);
  }
  if (value == "yes" || value == "no") {
    return show(feature, 40) + ": " + value;
  }
  return show(value);
}

// What the outputs with `value` do, after "N of M outputs" ("now wrap JSON in ```json
// fences"). The value "*" stands for any value but the neutral one.
std::string predicate(std::string_view feature, const std::string& value, const Evidence& e) {
  const std::string payload = e.json ? "the JSON" : "the code fence";
  if (feature == "json") {
    return value == "none" ? "now hold no JSON"
           : value == "*"  ? "now hold JSON"
                           : "now hold a JSON " + show(value, 20);
  }
  if (feature == "key_case") {
    if (value == "mixed") {
      return "now mix JSON key styles";
    }
    return value == "lowercase" ? "now use single-word lowercase JSON keys"
                                : "now use " + show(value, 20) + " JSON keys";
  }
  if (feature == "code_fence") {
    const std::string what = e.json ? "JSON" : "their answer";
    if (value == "none") {
      return "now have no code fence";
    }
    if (value == "*") {
      return "now wrap their answer in code fences";
    }
    if (value == "fenced") {
      return "now wrap " + what + " in ``` fences without a language tag";
    }
    return "now wrap " + what + " in " + display(feature, value) + " fences";
  }
  if (feature == "whole_fence") {
    return value == "yes" ? "are now one code fence and nothing else"
                          : "now have text or another fence outside their code fence";
  }
  if (feature == "preamble") {
    return value == "yes" ? "now start with text before " + payload : "now start with " + payload;
  }
  if (feature == "trailing_text") {
    return value == "yes" ? "now have text after " + payload : "now end with " + payload;
  }
  if (feature == "opener") {
    return value == "yes" ? "now open with a stock phrase" : "now open without a stock phrase";
  }
  if (feature == "answer_tag") {
    if (value == "only") {
      return "are now only an answer tag";
    }
    if (value == "start" || value == "end") {
      return "now " + value + " with an answer tag";
    }
    return value == "*" ? "now have an answer tag" : "now have no answer tag";
  }
  if (feature == "answer_tag_style") {
    return "now write their answer tag as " + show(value, 20);
  }
  if (feature == "boxed") {
    if (value == "only") {
      return "are now only a \\boxed{} answer";
    }
    if (value == "in-text") {
      return "now give a \\boxed{} answer within text";
    }
    return value == "*" ? "now give a \\boxed{} answer" : "now have no \\boxed{} answer";
  }
  if (feature == "refusal") {
    return value == "yes" ? "now contain a refusal" : "now contain no refusal";
  }
  if (feature == "hedge") {
    return value == "yes" ? "now hedge instead of answering" : "now answer without hedging";
  }
  if (feature == "headings" || feature == "table") {
    const std::string what = feature == "headings" ? "markdown headings" : "markdown tables";
    return value == "yes" ? "now have " + what : "now have no " + what;
  }
  if (feature == "bold") {
    return value == "yes" ? "now use **bold** text" : "now use no bold text";
  }
  if (feature == "list_marker") {
    if (value == "none") {
      return "now have no lists";
    }
    if (value == "*") {
      return "now have lists";
    }
    if (value == "mixed") {
      return "now have lists with mixed markers";
    }
    if (value == "1." || value == "1)") {
      return "now have numbered lists (\"" + value + "\")";
    }
    return "now have lists with " + display(feature, value) + " markers";
  }
  if (feature == "quotes") {
    if (value == "straight") {
      return "now use straight quotes (\" ')";
    }
    if (value == "curly") {
      return "now use curly quotes (\xE2\x80\x9C \xE2\x80\x9D \xE2\x80\x98 \xE2\x80\x99)";
    }
    if (value == "mixed") {
      return "now mix straight and curly quotes";
    }
    return "now use quotes " + text::quote(value, 20);
  }
  if (feature == "leading_whitespace" || feature == "trailing_whitespace") {
    const std::string where = feature == "leading_whitespace" ? "start" : "end";
    if (value == "*") {
      return "now " + where + " with whitespace";
    }
    return value == "none" ? "now " + where + " without whitespace"
                           : "now " + where + " with " + display(feature, value);
  }
  if (value == "*") {
    return "now have another " + show(feature, 40);
  }
  return "now have " + show(feature, 40) + " " + text::quote(value, 40);
}

// The JSON shape changes between two signatures, in words: "\"score\" added, \"confidence\"
// removed". Paths are matched without case, "_" and "-".
std::string shape_changes(const std::string& from, const std::string& to) {
  const auto entries = [](const std::string& shape) {
    std::map<std::string, std::pair<std::string, std::string>> out; // normalized path -> raw
    std::size_t begin = 0;
    while (begin <= shape.size()) {
      std::size_t end = shape.find(',', begin);
      end = end == std::string::npos ? shape.size() : end;
      const std::string entry = shape.substr(begin, end - begin);
      const std::size_t colon = entry.rfind(':');
      const std::string path = colon == std::string::npos ? "" : entry.substr(0, colon);
      const std::string type = colon == std::string::npos ? entry : entry.substr(colon + 1);
      if (!entry.empty() && entry != "\xE2\x80\xA6") {
        out[normalize_shape(path)] = {path, type};
      }
      begin = end + 1;
    }
    return out;
  };
  const auto before = entries(from);
  const auto after = entries(to);
  std::vector<std::string> changes;
  const auto name = [](const std::string& path) {
    return path.empty() ? std::string("the top level") : text::quote(path, 40);
  };
  for (const auto& [key, entry] : after) {
    const auto it = before.find(key);
    if (it == before.end()) {
      changes.push_back(name(entry.first) + " added");
    } else if (it->second.second != entry.second) {
      changes.push_back(name(entry.first) + " changed from " + show(it->second.second, 30) +
                        " to " + show(entry.second, 30));
    }
  }
  for (const auto& [key, entry] : before) {
    if (after.find(key) == after.end()) {
      changes.push_back(name(entry.first) + " removed");
    }
  }
  std::string out;
  constexpr std::size_t k_shown = 4;
  for (std::size_t i = 0; i < changes.size() && i < k_shown; ++i) {
    out += (i == 0 ? "" : ", ") + changes[i];
  }
  if (changes.size() > k_shown) {
    out += " and " + std::to_string(changes.size() - k_shown) + " more";
  }
  return out;
}

// A value of a feature that rose or fell, and what shows it.
struct Candidate {
  std::string value;                // as compared (json_shape: normalized)
  double change = 0;                // the change in share, rising > 0
  double p = 1;                     // family-wise
  std::size_t cases = 0;            // paired: the outputs that moved this way
  std::vector<std::size_t> indices; // paired: their positions in the run's outputs
  double moved = 1;                 // paired: the share that moved, net of the other way
};

// What a feature's test found: the value that rose most and the one that fell most.
struct Choice {
  std::optional<Candidate> rise;
  std::optional<Candidate> fall;
  bool paired = false;
};

std::string percent(double share) {
  return std::to_string(static_cast<long long>(std::llround(share * 100))) + "%";
}

// A change that reached less than half of the outputs: what a model rolled out to part of
// the traffic looks like.
// `run_share`: the share of the run's outputs with the new form (rising) or still with the old
// one (falling); a run that moved as a whole is no partial rollout, however little it moved.
bool partial(const Choice& choice, const Candidate& c, double run_share) {
  return choice.paired && c.moved < 0.5 && run_share > 0.1 && run_share < 0.9;
}

struct Comparison {
  const std::vector<const Fingerprint*>& baseline;
  const std::vector<const Fingerprint*>& run;
  const Side& baseline_side;
  const Side& run_side;
  const DriftOptions& options;
  FisherExact fisher;

  // Two samples: the values whose share moved past the floors, by Fisher's exact test, p-values
  // multiplied by `factor` (Holm's) and below `alpha`.
  Choice choose(std::string_view feature, double factor, double alpha) const;
  // The smallest p-value of `feature`'s values that pass the floors (1: none), two samples.
  double smallest_p(std::string_view feature) const;
  std::optional<DriftFinding> categorical(std::string_view feature, const Choice& choice) const;
  // The same for "tools", put in words of answering and calling tools.
  DriftFinding tools(const Choice& choice) const;
  // Two samples: the rank test and the median ratio, p-value multiplied by `factor`.
  std::optional<DriftFinding> numeric(std::string_view feature, double factor) const;
  double numeric_p(std::string_view feature) const;

  // The run's outputs where `feature` applies and its (compared) value is `value` (or is not).
  std::vector<std::size_t> outputs_with(std::string_view feature, const std::string& value,
                                        bool equal) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < run.size(); ++i) {
      const auto v = run[i]->category(feature);
      if (v && ((feature == "json_shape" ? normalize_shape(*v) == value : *v == value) == equal)) {
        out.push_back(i);
      }
    }
    return out;
  }
};

Choice Comparison::choose(std::string_view feature, double factor, double alpha) const {
  Choice choice;
  const auto b_it = baseline_side.categorical.find(feature);
  const auto r_it = run_side.categorical.find(feature);
  if (b_it == baseline_side.categorical.end() || r_it == run_side.categorical.end()) {
    return choice;
  }
  const Tally& b = b_it->second;
  const Tally& r = r_it->second;
  std::set<std::string> values;
  for (const auto& [value, n] : b.counts) {
    values.insert(value);
  }
  for (const auto& [value, n] : r.counts) {
    values.insert(value);
  }
  constexpr double k_epsilon = 1e-12;
  for (const std::string& value : values) {
    const std::size_t a = count_in(b, value);
    const std::size_t c = count_in(r, value);
    const double change = static_cast<double>(c) / static_cast<double>(r.defined) -
                          static_cast<double>(a) / static_cast<double>(b.defined);
    if (std::abs(change) + k_epsilon < options.min_effect) {
      continue;
    }
    const double p = std::min(1.0, fisher(a, b.defined - a, c, r.defined - c) * factor);
    if (p >= alpha) {
      continue;
    }
    Candidate candidate{value, change, p, 0, {}, 1};
    const auto better = [](const std::optional<Candidate>& best, const Candidate& x) {
      return !best || std::abs(x.change) > std::abs(best->change) ||
             (std::abs(x.change) == std::abs(best->change) && x.p < best->p);
    };
    if (change > 0 && c >= options.min_cases && better(choice.rise, candidate)) {
      choice.rise = std::move(candidate);
    } else if (change < 0 && r.defined - c >= options.min_cases && better(choice.fall, candidate)) {
      choice.fall = std::move(candidate);
    }
  }
  return choice;
}

double Comparison::smallest_p(std::string_view feature) const {
  const Choice choice = choose(feature, 1, 1.0 + 1e-9);
  double p = 1;
  for (const auto* c : {&choice.rise, &choice.fall}) {
    if (*c) {
      p = std::min(p, (*c)->p);
    }
  }
  return p;
}

std::optional<DriftFinding> Comparison::categorical(std::string_view feature,
                                                    const Choice& choice) const {
  const auto& rise = choice.rise;
  const auto& fall = choice.fall;
  if (!rise && !fall) {
    return std::nullopt;
  }
  if (feature == "tools") {
    return tools(choice);
  }
  const Tally& b = baseline_side.categorical.find(feature)->second;
  const Tally& r = run_side.categorical.find(feature)->second;
  const Wording w = wording(feature);
  const bool everyone = b.defined == baseline.size() && r.defined == run.size();
  const std::string population =
      everyone || w.population.empty() ? std::string("outputs") : std::string(w.population);
  const auto raw = [&](const Tally& t, const std::string& value) {
    const auto it = t.original.find(value);
    return it == t.original.end() ? value : it->second;
  };
  const auto quoted = [&](const Evidence& e) {
    return e.excerpt.empty() ? std::string() : "\"" + show(e.excerpt, 40) + "\"; ";
  };
  // The share of the run's outputs with `c`'s value.
  const auto run_share = [&](const Candidate& c) {
    return static_cast<double>(count_in(r, c.value)) /
           static_cast<double>(std::max<std::size_t>(r.defined, 1));
  };
  const auto rollout = [&](const Candidate& c) {
    return partial(choice, c, run_share(c)) ? ": about " + percent(c.moved) + " of " + population +
                                                  " changed, a partial rollout?"
                                            : std::string();
  };

  DriftFinding f;
  f.feature = show(feature, 40);
  const bool rise_named = rise && rise->value != w.neutral;
  const bool fall_named = fall && fall->value != w.neutral;
  // Absence fell much more than any one value rose (fences in four languages): say that.
  const bool spread =
      rise && fall && !fall_named && std::abs(fall->change) > 1.5 * std::abs(rise->change);
  if (rise && (rise_named || !fall_named) && !spread) {
    const std::size_t a = count_in(b, rise->value);
    const std::size_t c = count_in(r, rise->value);
    const Evidence e = evidence(run, feature, raw(r, rise->value), w.excerpt);
    f.baseline = count_of(a, b.defined);
    f.candidate = count_of(c, r.defined) + " (" + display(feature, raw(r, rise->value)) + ")";
    f.cases = choice.paired ? rise->cases : c;
    f.p_value = rise->p;
    f.indices = choice.paired ? rise->indices : outputs_with(feature, rise->value, true);
    const std::string counts = count_of(c, r.defined) + " " + population;
    const std::string since = "baseline " + count_of(a, b.defined) + ")";
    if (feature == "json_shape") {
      const std::string from =
          fall ? raw(b, fall->value)
               : std::max_element(b.original.begin(), b.original.end(),
                                  [&](const auto& x, const auto& y) {
                                    return count_in(b, x.first) < count_in(b, y.first);
                                  })
                     ->second;
      std::string changes = shape_changes(from, raw(r, rise->value));
      if (changes.empty()) {
        changes = "now " + show(raw(r, rise->value), 80);
      }
      f.candidate = count_of(c, r.defined);
      f.message =
          "the JSON shape changed in " + counts + " (" + since + ": " + changes + rollout(*rise);
    } else if (rise_named && fall_named && !w.label.empty()) {
      f.message = std::string(w.label) + " changed from " + display(feature, raw(b, fall->value)) +
                  " to " + display(feature, raw(r, rise->value)) + " in " + counts + " (" + since +
                  rollout(*rise);
    } else if (partial(choice, *rise, run_share(*rise))) {
      // "about 24% of outputs now wrap ... (12 of 50; baseline 0 of 50): a partial rollout?"
      f.message = "about " + percent(rise->moved) + " of " + population + " " +
                  predicate(feature, raw(r, rise->value), e) + " (" + quoted(e) +
                  count_of(c, r.defined) + "; " + since + ": a partial rollout?";
    } else {
      f.message =
          counts + " " + predicate(feature, raw(r, rise->value), e) + " (" + quoted(e) + since;
    }
    return f;
  }

  // The value that fell is named; what replaced it is absence or many different values.
  const std::size_t a = count_in(b, fall->value);
  const std::size_t c = count_in(r, fall->value);
  const bool neutral = fall->value == w.neutral;
  const std::string value = neutral ? std::string("*") : raw(b, fall->value);
  const Evidence e = evidence(baseline, feature, raw(b, fall->value), w.excerpt);
  f.cases = choice.paired ? fall->cases : r.defined - c;
  f.p_value = fall->p;
  f.indices = choice.paired ? fall->indices : outputs_with(feature, fall->value, false);
  if (neutral) {
    // "Something" rose, spread over many values: count the outputs without the neutral value.
    f.baseline = count_of(b.defined - a, b.defined);
    f.candidate = count_of(r.defined - c, r.defined);
    f.message = count_of(r.defined - c, r.defined) + " " + population + " " +
                predicate(feature, value, e) + " (baseline " + count_of(b.defined - a, b.defined) +
                ")" + rollout(*fall);
    return f;
  }
  f.baseline = count_of(a, b.defined);
  f.candidate = count_of(c, r.defined) + " (" + display(feature, value) + ")";
  const std::string subject =
      c == 0 ? "no " + population : "only " + count_of(c, r.defined) + " " + population;
  if (feature == "json_shape") {
    f.message = subject + " now have the JSON shape " + show(value, 80) + " (baseline " +
                count_of(a, b.defined) + ")" + rollout(*fall);
  } else {
    f.message = subject + " " + predicate(feature, value, e) + " (" + quoted(e) + "baseline " +
                count_of(a, b.defined) + ")" + rollout(*fall);
  }
  return f;
}

// The tools called by the outputs of `fps` at positions `at`, most often called first, as
// "get_weather, search and 2 more" ("" when they call none).
std::string called_tools(const std::vector<const Fingerprint*>& fps,
                         const std::vector<std::size_t>& at) {
  std::map<std::string, std::size_t, std::less<>> names;
  for (const std::size_t i : at) {
    const auto value = i < fps.size() ? fps[i]->category("tools") : std::nullopt;
    if (!value || *value == "none") {
      continue;
    }
    std::string_view rest = *value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      count(names, rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  std::vector<std::pair<std::string, std::size_t>> sorted(names.begin(), names.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& x, const auto& y) { return x.second > y.second; });
  constexpr std::size_t k_shown = 3;
  std::string out;
  for (std::size_t i = 0; i < sorted.size() && i < k_shown; ++i) {
    out += (i == 0 ? "" : ", ") + show(sorted[i].first, 40);
  }
  if (sorted.size() > k_shown) {
    out += " and " + std::to_string(sorted.size() - k_shown) + " more";
  }
  return out;
}

// " (get_weather)", or "" for no names.
std::string in_parentheses(const std::string& names) {
  return names.empty() ? std::string() : " (" + names + ")";
}

// "tools" drifts one of four ways: toward text (the value "none" rose), toward calling tools
// (a named value rose, or "none" fell with the rise spread over many tools), or away from one
// tool to others (a named value fell). Paired cases say where the changed ones came from:
// "the model now calls tools (get_weather) in 8 of 10 cases where the baseline answered in
// text".
DriftFinding Comparison::tools(const Choice& choice) const {
  const Tally& b = baseline_side.categorical.find("tools")->second;
  const Tally& r = run_side.categorical.find("tools")->second;
  const auto& rise = choice.rise;
  const auto& fall = choice.fall;
  const bool to_text = rise && rise->value == "none";
  // Answers in text fell much more than any one tool rose: tools spread over many names.
  const bool spread = rise && !to_text && fall && fall->value == "none" &&
                      std::abs(fall->change) > 1.5 * std::abs(rise->change);
  const bool rising = rise && !spread;
  const Candidate& c = rising ? *rise : *fall;
  const bool from_text = !rising && c.value == "none"; // tools now called, spread over names
  const std::size_t a = count_in(b, c.value);
  const std::size_t now = count_in(r, c.value);

  DriftFinding f;
  f.feature = "tools";
  f.p_value = c.p;
  f.indices = choice.paired ? c.indices : outputs_with("tools", c.value, rising);
  f.cases = choice.paired ? c.cases : f.indices.size();
  const auto shown = [](const std::string& value) {
    return value == "none" ? std::string("no tool calls") : "calls " + show(value, 60);
  };
  if (from_text) {
    f.baseline = count_of(b.defined - a, b.defined);
    f.candidate = count_of(r.defined - now, r.defined);
  } else {
    f.baseline = count_of(a, b.defined);
    f.candidate = count_of(now, r.defined) + " (" + shown(c.value) + ")";
  }
  // The tools the moved outputs call now, and those their baselines called (paired).
  const std::string run_tools = called_tools(run, f.indices);
  const std::string base_tools = choice.paired ? called_tools(baseline, f.indices) : "";
  const std::size_t answered = count_in(b, "none"); // baseline outputs in text
  const std::size_t calling = b.defined - answered; // baseline outputs calling tools
  const double share =
      static_cast<double>(now) / static_cast<double>(std::max<std::size_t>(r.defined, 1));
  const std::string rollout =
      partial(choice, c, share)
          ? ": about " + percent(c.moved) + " of cases changed, a partial rollout?"
          : std::string();
  if (!choice.paired) {
    const std::string counts =
        " in " + (from_text ? count_of(r.defined - now, r.defined) : count_of(now, r.defined)) +
        " outputs (baseline " + f.baseline + ")";
    if (to_text) {
      f.message = "the model now answers in text, calling no tools," + counts;
    } else if (rising || from_text) {
      f.message = "the model now calls tools" + in_parentheses(run_tools) + counts;
    } else {
      f.message = "the model now calls " + show(c.value, 60) + counts;
    }
    return f;
  }
  // Paired: of the moved cases, those whose baseline answered in text.
  const std::size_t was_text = static_cast<std::size_t>(
      std::count_if(f.indices.begin(), f.indices.end(), [&](std::size_t i) {
        return baseline[i]->category("tools").value_or("none") == "none";
      }));
  if (to_text) {
    f.message = "the model now answers in text in " + count_of(f.cases, calling) +
                " cases where the baseline called tools" + in_parentheses(base_tools);
  } else if ((rising || from_text) && 2 * was_text >= f.cases) {
    f.message = "the model now calls tools" + in_parentheses(run_tools) + " in " +
                count_of(was_text, answered) + " cases where the baseline answered in text";
    if (was_text < f.cases) {
      f.message += ", and other tools than the baseline's in " +
                   std::to_string(f.cases - was_text) + " more";
    }
  } else if (rising) {
    f.message = "the model now calls other tools" + in_parentheses(run_tools) + " in " +
                count_of(f.cases - was_text, calling) + " cases where the baseline called tools" +
                in_parentheses(base_tools);
  } else {
    f.message = "the model no longer calls " + show(c.value, 60) + " in " + count_of(f.cases, a) +
                " cases where the baseline did" +
                (run_tools.empty() ? std::string() : "; it now calls " + run_tools);
  }
  f.message += rollout;
  return f;
}

double Comparison::numeric_p(std::string_view feature) const {
  const auto x_it = baseline_side.numeric.find(feature);
  const auto y_it = run_side.numeric.find(feature);
  if (x_it == baseline_side.numeric.end() || y_it == run_side.numeric.end()) {
    return 1;
  }
  return mann_whitney(x_it->second, y_it->second);
}

// What a numeric feature is called in messages, and its unit for `count`.
std::pair<std::string, std::string> numeric_words(std::string_view feature, double count) {
  if (feature == "length") {
    return {"length", count == 1 ? " character" : " characters"};
  }
  if (feature == "lines") {
    return {"line count", count == 1 ? " line" : " lines"};
  }
  return {show(feature, 40), ""};
}

std::optional<DriftFinding> Comparison::numeric(std::string_view feature, double factor) const {
  const auto x_it = baseline_side.numeric.find(feature);
  const auto y_it = run_side.numeric.find(feature);
  if (x_it == baseline_side.numeric.end() || y_it == run_side.numeric.end()) {
    return std::nullopt;
  }
  const std::vector<double>& x = x_it->second;
  const std::vector<double>& y = y_it->second;
  const double before = median(x);
  const double after = median(y);
  const double ratio = (after + 1) / (before + 1);
  const bool rose = ratio >= options.min_ratio;
  const bool fell = ratio * options.min_ratio <= 1;
  if ((!rose && !fell) || std::abs(after - before) < min_difference(feature)) {
    return std::nullopt;
  }
  const double p = std::min(1.0, mann_whitney(x, y) * factor);
  if (p >= options.alpha) {
    return std::nullopt;
  }
  // The run's outputs beyond the same factor from the baseline's median: those that show it.
  const double limit =
      rose ? (before + 1) * options.min_ratio - 1 : (before + 1) / options.min_ratio - 1;
  const auto beyond = [&](const std::vector<double>& values) {
    return static_cast<std::size_t>(std::count_if(
        values.begin(), values.end(), [&](double v) { return rose ? v >= limit : v <= limit; }));
  };
  const std::size_t cases = beyond(y);
  if (cases < options.min_cases) {
    return std::nullopt;
  }
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < run.size(); ++i) {
    if (const auto v = run[i]->number(feature); v && (rose ? *v >= limit : *v <= limit)) {
      indices.push_back(i);
    }
  }
  const double bound = rose ? std::ceil(limit - 1e-9) : std::floor(limit + 1e-9);
  const auto [what, unit] = numeric_words(feature, bound);
  DriftFinding f;
  f.feature = show(feature, 40);
  f.baseline = "median " + show_number(before);
  f.candidate = "median " + show_number(after);
  f.cases = cases;
  f.p_value = p;
  f.indices = std::move(indices);
  f.message = "median " + what + (rose ? " rose" : " fell") + " from " + show_number(before) +
              " to " + show_number(after) + (feature == "length" ? " characters" : "") + "; " +
              count_of(cases, y.size()) + " outputs now have " + (rose ? "at least " : "at most ") +
              show_number(bound) + unit + " (baseline " + count_of(beyond(x), x.size()) + ")";
  return f;
}

// The features both sides have, in report order; categorical first when a name is both.
std::vector<std::pair<std::string, bool>> shared_features(const Side& baseline, const Side& run) {
  std::vector<std::pair<std::string, bool>> features; // name, numeric
  for (const auto& [name, tally] : run.categorical) {
    if (baseline.categorical.contains(name)) {
      features.emplace_back(name, false);
    }
  }
  for (const auto& [name, values] : run.numeric) {
    if (baseline.numeric.contains(name)) {
      features.emplace_back(name, true);
    }
  }
  const auto rank = [](const std::string& name) {
    return static_cast<std::size_t>(std::find(k_order.begin(), k_order.end(), name) -
                                    k_order.begin());
  };
  std::stable_sort(features.begin(), features.end(), [&](const auto& l, const auto& r) {
    return std::pair(rank(l.first), l.first) < std::pair(rank(r.first), r.first);
  });
  return features;
}

// Two samples of different cases: each feature's smallest p-value, Holm's step-down over the
// features that vary at all.
std::vector<DriftFinding> unpaired_drift(const std::vector<const Fingerprint*>& baseline,
                                         const std::vector<const Fingerprint*>& run,
                                         const DriftOptions& options) {
  if (baseline.empty() || run.empty()) {
    return {};
  }
  const Side baseline_side = gather(baseline);
  const Side run_side = gather(run);
  const auto features = shared_features(baseline_side, run_side);
  const Comparison comparison{baseline, run,     baseline_side,
                              run_side, options, FisherExact(baseline.size() + run.size())};
  struct Tested {
    std::size_t feature; // in `features`
    double p;
  };
  std::vector<Tested> tested;
  std::size_t varying = 0;
  for (std::size_t i = 0; i < features.size(); ++i) {
    const auto& [name, numeric] = features[i];
    if (!numeric) {
      const Tally& b = baseline_side.categorical.find(name)->second;
      const Tally& r = run_side.categorical.find(name)->second;
      std::set<std::string_view> values;
      for (const auto& [value, n] : b.counts) {
        values.insert(value);
      }
      for (const auto& [value, n] : r.counts) {
        values.insert(value);
      }
      if (values.size() < 2) {
        continue; // one value on both sides: nothing can have moved
      }
    }
    ++varying;
    tested.push_back({i, numeric ? comparison.numeric_p(name) : comparison.smallest_p(name)});
  }
  std::stable_sort(tested.begin(), tested.end(),
                   [](const Tested& l, const Tested& r) { return l.p < r.p; });
  std::vector<std::pair<std::size_t, DriftFinding>> found; // feature, finding
  for (std::size_t k = 0; k < tested.size(); ++k) {
    const double factor = static_cast<double>(varying - k);
    if (tested[k].p * factor >= options.alpha) {
      break; // Holm: the first that fails stops the rest
    }
    const auto& [name, numeric] = features[tested[k].feature];
    auto finding =
        numeric ? comparison.numeric(name, factor)
                : comparison.categorical(name, comparison.choose(name, factor, options.alpha));
    if (finding) {
      found.emplace_back(tested[k].feature, std::move(*finding));
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& l, const auto& r) { return l.first < r.first; });
  std::vector<DriftFinding> findings;
  for (auto& [_, f] : found) {
    findings.push_back(std::move(f));
  }
  return findings;
}

// One test on pairs: a value of a categorical feature that some cases gained and others lost,
// or a numeric feature that moved by the ratio floor up in some cases and down in others.
struct Hypothesis {
  std::string feature;
  std::string value; // "" for a numeric feature
  bool numeric = false;
  std::size_t applicable = 0;      // the pairs where the feature applies on both sides
  std::vector<std::size_t> gained; // pair positions: the value appeared / the number rose
  std::vector<std::size_t> lost;   // the value went / the number fell
  double p = 1;                    // the sign test's, on its own
  double adjusted = 1;             // family-wise
  std::size_t discordant() const { return gained.size() + lost.size(); }
};

// Whether `gained` against `lost` of `applicable` pairs passes the effect floors.
bool passes_floors(std::size_t gained, std::size_t lost, std::size_t applicable,
                   const DriftOptions& options) {
  const std::size_t net = gained > lost ? gained - lost : lost - gained;
  return static_cast<double>(net) + 1e-9 >= options.min_effect * static_cast<double>(applicable) &&
         std::max(gained, lost) >= options.min_cases;
}

// Whether a pair moved by the ratio floor: +1 up, -1 down, 0 not.
int numeric_move(std::string_view feature, double before, double after,
                 const DriftOptions& options) {
  const double diff = min_difference(feature);
  if ((after + 1) >= (before + 1) * options.min_ratio && after - before >= diff) {
    return 1;
  }
  if ((before + 1) >= (after + 1) * options.min_ratio && before - after >= diff) {
    return -1;
  }
  return 0;
}

std::vector<Hypothesis> hypotheses(const std::vector<const Fingerprint*>& baseline,
                                   const std::vector<const Fingerprint*>& run,
                                   const DriftOptions& options) {
  // feature -> (applicable pairs, value -> hypothesis)
  std::map<std::string, std::pair<std::size_t, std::map<std::string, Hypothesis>>, std::less<>>
      categorical;
  std::map<std::string, Hypothesis, std::less<>> numeric;
  for (std::size_t i = 0; i < run.size(); ++i) {
    const Fingerprint& b = *baseline[i];
    const Fingerprint& r = *run[i];
    // Both feature maps are sorted by name: walk them side by side.
    auto bi = b.categorical.begin();
    auto slot = categorical.begin();
    for (const auto& [name, value] : r.categorical) {
      while (bi != b.categorical.end() && bi->first < name) {
        ++bi;
      }
      if (bi == b.categorical.end() || bi->first != name) {
        continue;
      }
      slot = slot != categorical.end() && slot->first == name ? slot
                                                              : categorical.try_emplace(name).first;
      auto& [applicable, values] = slot->second;
      ++slot;
      ++applicable;
      if (bi->second == value) {
        continue; // the common case, without normalizing a shape
      }
      const bool shape = name == "json_shape";
      const std::string after = shape ? normalize_shape(value) : value;
      const std::string before = shape ? normalize_shape(bi->second) : bi->second;
      if (after == before) {
        continue;
      }
      values[after].gained.push_back(i);
      values[before].lost.push_back(i);
    }
    for (const auto& [name, value] : r.numeric) {
      const auto before = b.number(name);
      if (!before) {
        continue;
      }
      Hypothesis& h = numeric[name];
      ++h.applicable;
      if (const int move = numeric_move(name, *before, value, options); move > 0) {
        h.gained.push_back(i);
      } else if (move < 0) {
        h.lost.push_back(i);
      }
    }
  }
  std::vector<Hypothesis> out;
  for (auto& [name, entry] : categorical) {
    for (auto& [value, h] : entry.second) {
      h.feature = name;
      h.value = value;
      h.applicable = entry.first;
      out.push_back(std::move(h));
    }
  }
  for (auto& [name, h] : numeric) {
    h.feature = name;
    h.numeric = true;
    out.push_back(std::move(h));
  }
  for (Hypothesis& h : out) {
    h.p = sign_test(std::min(h.gained.size(), h.lost.size()), h.discordant());
  }
  return out;
}

// The sign test's p-value for each k = 0..n/2 of `n` pairs moving the rarer way.
std::vector<double> sign_test_table(std::size_t n) {
  std::vector<double> table(n / 2 + 1, 1.0);
  const double nn = static_cast<double>(n);
  double log_choose = -nn * std::log(2.0); // ln(C(n, 0) / 2^n)
  double tail = 0;
  for (std::size_t k = 0; k <= n / 2; ++k) {
    if (k > 0) {
      log_choose += std::log((nn - static_cast<double>(k) + 1) / static_cast<double>(k));
    }
    tail += std::exp(log_choose);
    table[k] = std::min(1.0, 2 * tail);
  }
  return table;
}

// Family-wise p-values of `candidates` among `tested` (all the testable hypotheses) by
// Westfall and Young's minP: each case's two outputs are swapped at random, which changes
// nothing when the form held, and the p-value is the share of such swaps whose strongest
// hypothesis (passing the floors) is as strong. Correlated features (a fence, its language
// and the length it adds) then count once, and features too rare to matter not at all.
// Returns false when the swaps would take too long (the caller keeps Bonferroni's).
bool permutation_adjust(const std::vector<Hypothesis*>& tested,
                        const std::vector<Hypothesis*>& candidates, std::size_t pairs,
                        const DriftOptions& options) {
  std::size_t entries = 0;
  for (const Hypothesis* h : tested) {
    entries += h->discordant();
  }
  constexpr double k_budget = 4e7; // entries x swaps: about a tenth of a second
  const std::size_t swaps = std::min<std::size_t>(
      options.permutations,
      static_cast<std::size_t>(k_budget / static_cast<double>(std::max<std::size_t>(entries, 1))));
  if (swaps < std::min<std::size_t>(200, std::max<std::size_t>(options.permutations, 1))) {
    return false;
  }
  // Per pair, the hypotheses it moves (+1 gained, -1 lost).
  std::vector<std::vector<std::pair<std::uint32_t, int>>> moves(pairs);
  std::vector<std::vector<double>> tables;
  tables.reserve(tested.size());
  for (std::uint32_t k = 0; k < tested.size(); ++k) {
    for (const std::size_t i : tested[k]->gained) {
      moves[i].emplace_back(k, 1);
    }
    for (const std::size_t i : tested[k]->lost) {
      moves[i].emplace_back(k, -1);
    }
    tables.push_back(sign_test_table(tested[k]->discordant()));
  }
  std::vector<std::size_t> informative;
  for (std::size_t i = 0; i < pairs; ++i) {
    if (!moves[i].empty()) {
      informative.push_back(i);
    }
  }
  std::vector<std::size_t> as_strong(candidates.size(), 0);
  std::vector<long long> sums(tested.size());
  // splitmix64 with a fixed seed: the same outputs give the same p-values.
  std::uint64_t state = 0x9E3779B97F4A7C15ULL ^ pairs;
  const auto next = [&state] {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  for (std::size_t s = 0; s < swaps; ++s) {
    std::fill(sums.begin(), sums.end(), 0);
    std::uint64_t bits = 0;
    for (std::size_t j = 0; j < informative.size(); ++j) {
      if (j % 64 == 0) {
        bits = next();
      }
      const int sign = (bits >> (j % 64)) & 1U ? -1 : 1;
      for (const auto& [k, move] : moves[informative[j]]) {
        sums[k] += sign * move;
      }
    }
    double strongest = 1;
    for (std::size_t k = 0; k < tested.size(); ++k) {
      const auto d = static_cast<long long>(tested[k]->discordant());
      const auto gained = static_cast<std::size_t>((d + sums[k]) / 2);
      const std::size_t lost = static_cast<std::size_t>(d) - gained;
      if (passes_floors(gained, lost, tested[k]->applicable, options)) {
        strongest = std::min(strongest, tables[k][std::min(gained, lost)]);
      }
    }
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      as_strong[c] += strongest <= candidates[c]->p * (1 + 1e-9);
    }
  }
  for (std::size_t c = 0; c < candidates.size(); ++c) {
    candidates[c]->adjusted =
        std::min(candidates[c]->adjusted,
                 static_cast<double>(as_strong[c] + 1) / static_cast<double>(swaps + 1));
  }
  return true;
}

// A numeric feature that moved in some pairs, in words: the median of the paired outputs when
// it moved by the ratio too ("median length fell from 528 to 4 characters; ..."), else the
// outputs that moved ("about 24% of outputs are now at most half as long ...").
DriftFinding numeric_finding(const Hypothesis& h, const Comparison& paired,
                             const std::vector<const Fingerprint*>& baseline,
                             const std::vector<const Fingerprint*>& run,
                             const DriftOptions& options) {
  const bool rose = h.gained.size() > h.lost.size();
  if (auto whole = paired.numeric(h.feature, 0); whole) {
    const bool whole_rose = median(paired.run_side.numeric.find(h.feature)->second) >
                            median(paired.baseline_side.numeric.find(h.feature)->second);
    if (whole_rose == rose) {
      whole->p_value = h.adjusted;
      return *whole;
    }
  }
  const std::vector<std::size_t>& moved = rose ? h.gained : h.lost;
  std::vector<double> before;
  std::vector<double> after;
  for (const std::size_t i : moved) {
    before.push_back(baseline[i]->number(h.feature).value_or(0));
    after.push_back(run[i]->number(h.feature).value_or(0));
  }
  const double share = static_cast<double>(moved.size() - (rose ? h.lost : h.gained).size()) /
                       static_cast<double>(std::max<std::size_t>(h.applicable, 1));
  const double from = median(before);
  const double to = median(after);
  const auto [what, unit] = numeric_words(h.feature, to);
  const std::string bound =
      rose ? "at least " + (options.min_ratio == 2 ? std::string("twice")
                                                   : show_number(options.min_ratio) + " times")
           : "at most " + (options.min_ratio == 2 ? std::string("half")
                                                  : "1/" + show_number(options.min_ratio));
  const std::string how = h.feature == "length" ? "are now " + bound + " as long as before"
                                                : "now have " + bound + " as many " +
                                                      (h.feature == "lines" ? std::string("lines")
                                                                            : show(h.feature, 40));
  DriftFinding f;
  f.feature = show(h.feature, 40);
  f.baseline = "median " + show_number(from);
  f.candidate = "median " + show_number(to);
  f.cases = moved.size();
  f.indices = moved;
  f.p_value = h.adjusted;
  const std::string counts = count_of(moved.size(), h.applicable);
  const std::string medians = "their median " + what + (rose ? " rose" : " fell") + " from " +
                              show_number(from) + " to " + show_number(to) + unit;
  f.message = share < 0.5 ? "about " + percent(share) + " of outputs " + how + " (" + counts +
                                "; " + medians + "): a partial rollout?"
                          : counts + " outputs " + how + " (" + medians + ")";
  return f;
}

// The features whose changes are markdown and whitespace: the second tier of paired_drift.
bool is_minor(std::string_view feature) {
  return feature == "headings" || feature == "list_marker" || feature == "table" ||
         feature == "bold" || feature == "quotes" || feature == "leading_whitespace" ||
         feature == "trailing_whitespace";
}

// The share of alpha that the first tier (every feature but the minor ones) gets.
constexpr double k_primary_weight = 0.8;

// The hypotheses of one tier that pass the floors and whose family-wise p-value, over the
// tier, is below its share `weight` of alpha. Their `adjusted` is divided by `weight`, so that
// it reads against alpha itself.
std::vector<Hypothesis*> adjust_tier(const std::vector<Hypothesis*>& tier, double weight,
                                     std::size_t pairs, const DriftOptions& options) {
  DriftOptions share = options;
  share.alpha = options.alpha * weight;
  // Testable: enough cases changed that the floors and alpha can be reached at all.
  std::vector<Hypothesis*> tested;
  for (Hypothesis* h : tier) {
    const std::size_t d = h->discordant();
    if (d >= options.min_cases &&
        static_cast<double>(d) + 1e-9 >= options.min_effect * static_cast<double>(h->applicable) &&
        sign_test(0, d) < share.alpha) {
      tested.push_back(h);
    }
  }
  // For Bonferroni: a yes/no feature's two values are one test, not two (hypotheses come
  // grouped by feature).
  std::size_t independent = tested.size();
  for (std::size_t k = 0; k + 1 < tested.size(); ++k) {
    const Hypothesis& h = *tested[k];
    const Hypothesis& o = *tested[k + 1];
    const bool alone = (k == 0 || tested[k - 1]->feature != h.feature) &&
                       (k + 2 == tested.size() || tested[k + 2]->feature != h.feature);
    if (alone && !h.numeric && o.feature == h.feature && o.gained == h.lost && o.lost == h.gained) {
      --independent;
    }
  }
  std::vector<Hypothesis*> candidates;
  for (Hypothesis* h : tested) {
    h->adjusted = std::min(1.0, h->p * static_cast<double>(independent));
    if (h->p < share.alpha &&
        passes_floors(h->gained.size(), h->lost.size(), h->applicable, options)) {
      candidates.push_back(h);
    }
  }
  // The swaps can only lower a p-value that Bonferroni's leaves at or above alpha: a change
  // plain enough (most, in big suites) needs none.
  std::vector<Hypothesis*> borderline;
  for (Hypothesis* h : candidates) {
    if (h->adjusted >= share.alpha) {
      borderline.push_back(h);
    }
  }
  if (!borderline.empty()) {
    permutation_adjust(tested, borderline, pairs, options);
  }
  for (Hypothesis* h : candidates) {
    h->adjusted = std::min(1.0, h->adjusted / weight);
  }
  return candidates;
}

// Pairs: every case's two outputs side by side, a sign test per feature value on the cases that
// changed, adjusted for all of them at once (permutation_adjust).
std::vector<DriftFinding> paired_drift(const std::vector<const Fingerprint*>& baseline,
                                       const std::vector<const Fingerprint*>& run,
                                       const DriftOptions& options) {
  std::vector<Hypothesis> all = hypotheses(baseline, run, options);
  // Two tiers share alpha (weighted Bonferroni): the features that model updates change, and
  // markdown and whitespace, which vary between two samples of one model. The noise of the
  // second then costs the first little of its power.
  std::vector<Hypothesis*> primary;
  std::vector<Hypothesis*> minor;
  for (Hypothesis& h : all) {
    (is_minor(h.feature) ? minor : primary).push_back(&h);
  }
  std::vector<Hypothesis*> candidates = adjust_tier(primary, k_primary_weight, run.size(), options);
  for (Hypothesis* h : adjust_tier(minor, 1 - k_primary_weight, run.size(), options)) {
    candidates.push_back(h);
  }
  if (candidates.empty()) {
    return {};
  }

  const Side baseline_side = gather(baseline);
  const Side run_side = gather(run);
  const Comparison comparison{baseline, run,     baseline_side,
                              run_side, options, FisherExact(baseline.size() + run.size())};
  std::map<std::string, Choice> choices;
  std::map<std::string, const Hypothesis*> numeric;
  for (const Hypothesis* h : candidates) {
    if (h->adjusted >= options.alpha) {
      continue;
    }
    if (h->numeric) {
      numeric[h->feature] = h;
      continue;
    }
    const bool rose = h->gained.size() > h->lost.size();
    const double applicable = static_cast<double>(std::max<std::size_t>(h->applicable, 1));
    const std::size_t net =
        rose ? h->gained.size() - h->lost.size() : h->lost.size() - h->gained.size();
    Candidate c{h->value,
                (rose ? 1.0 : -1.0) * static_cast<double>(net) / applicable,
                h->adjusted,
                rose ? h->gained.size() : h->lost.size(),
                rose ? h->gained : h->lost,
                static_cast<double>(net) / applicable};
    Choice& choice = choices[h->feature];
    choice.paired = true;
    auto& slot = rose ? choice.rise : choice.fall;
    if (!slot || std::abs(c.change) > std::abs(slot->change) ||
        (std::abs(c.change) == std::abs(slot->change) && c.p < slot->p)) {
      slot = std::move(c);
    }
  }
  std::vector<DriftFinding> findings;
  for (const auto& [name, is_numeric] : shared_features(baseline_side, run_side)) {
    if (is_numeric) {
      if (const auto it = numeric.find(name); it != numeric.end()) {
        findings.push_back(numeric_finding(*it->second, comparison, baseline, run, options));
      }
    } else if (const auto it = choices.find(name); it != choices.end()) {
      if (auto f = comparison.categorical(name, it->second)) {
        findings.push_back(std::move(*f));
      }
    }
  }
  return findings;
}

// A fenced output is "one fence and nothing else" unless it has text before or after its
// fence: when either of those drifted, whole_fence says the same again.
void drop_repeats(std::vector<DriftFinding>& findings) {
  const auto reported = [&](std::string_view name) {
    return std::any_of(findings.begin(), findings.end(),
                       [&](const DriftFinding& f) { return f.feature == name; });
  };
  if (reported("preamble") || reported("trailing_text")) {
    std::erase_if(findings, [](const DriftFinding& f) { return f.feature == "whole_fence"; });
  }
}

} // namespace

std::vector<DriftFinding> detect_drift(const std::vector<Fingerprint>& baseline,
                                       const std::vector<Fingerprint>& run,
                                       const DriftOptions& options) {
  const auto pointers = [](const std::vector<Fingerprint>& prints) {
    std::vector<const Fingerprint*> out;
    out.reserve(prints.size());
    for (const Fingerprint& fp : prints) {
      out.push_back(&fp);
    }
    return out;
  };
  return detect_drift(pointers(baseline), pointers(run), options);
}

std::vector<DriftFinding> detect_drift(const std::vector<const Fingerprint*>& baseline,
                                       const std::vector<const Fingerprint*>& run,
                                       const DriftOptions& options) {
  std::vector<DriftFinding> findings = unpaired_drift(baseline, run, options);
  drop_repeats(findings);
  return findings;
}

std::vector<DriftFinding> detect_drift(const std::vector<DriftCase>& cases,
                                       const DriftOptions& options) {
  std::vector<const Fingerprint*> paired_baseline;
  std::vector<const Fingerprint*> paired_run;
  std::vector<std::size_t> paired_at;
  std::vector<const Fingerprint*> all_baseline;
  std::vector<const Fingerprint*> run_only;
  std::vector<std::size_t> run_only_at;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const DriftCase& c = cases[i];
    if (c.baseline != nullptr) {
      all_baseline.push_back(c.baseline);
    }
    if (c.baseline != nullptr && c.run != nullptr) {
      paired_baseline.push_back(c.baseline);
      paired_run.push_back(c.run);
      paired_at.push_back(i);
    } else if (c.run != nullptr) {
      run_only.push_back(c.run);
      run_only_at.push_back(i);
    }
  }
  // Pairs and the outputs without one are two families: each gets half of alpha when both are
  // there (Bonferroni), so the chance of any false alarm stays within alpha.
  DriftOptions split = options;
  if (!paired_run.empty() && !run_only.empty()) {
    split.alpha = options.alpha / 2;
  }
  std::vector<DriftFinding> findings;
  if (!paired_run.empty()) {
    findings = paired_drift(paired_baseline, paired_run, split);
    for (DriftFinding& f : findings) {
      for (std::size_t& i : f.indices) {
        i = paired_at[i];
      }
    }
  }
  if (!run_only.empty()) {
    for (DriftFinding& f : unpaired_drift(all_baseline, run_only, split)) {
      const bool known = std::any_of(findings.begin(), findings.end(),
                                     [&](const DriftFinding& g) { return g.feature == f.feature; });
      if (!known) {
        for (std::size_t& i : f.indices) {
          i = run_only_at[i];
        }
        findings.push_back(std::move(f));
      }
    }
    const auto rank = [](const DriftFinding& f) {
      return static_cast<std::size_t>(std::find(k_order.begin(), k_order.end(), f.feature) -
                                      k_order.begin());
    };
    std::stable_sort(findings.begin(), findings.end(),
                     [&](const DriftFinding& l, const DriftFinding& r) {
                       return std::pair(rank(l), l.feature) < std::pair(rank(r), r.feature);
                     });
  }
  drop_repeats(findings);
  return findings;
}

std::optional<DriftSensitivity> parse_drift_sensitivity(std::string_view name) {
  if (name == "low") {
    return DriftSensitivity::low;
  }
  if (name == "default") {
    return DriftSensitivity::standard;
  }
  if (name == "high") {
    return DriftSensitivity::high;
  }
  return std::nullopt;
}

std::string_view to_string(DriftSensitivity sensitivity) {
  switch (sensitivity) {
  case DriftSensitivity::low:
    return "low";
  case DriftSensitivity::high:
    return "high";
  case DriftSensitivity::standard:
    break;
  }
  return "default";
}

DriftOptions DriftOptions::for_sensitivity(DriftSensitivity sensitivity) {
  DriftOptions o;
  if (sensitivity == DriftSensitivity::low) {
    o.alpha = 0.001;
    o.min_effect = 0.25;
  } else if (sensitivity == DriftSensitivity::high) {
    o.alpha = 0.05;
    o.min_effect = 0.05;
  }
  return o;
}

json to_json(const DriftFinding& finding) {
  return json{{"feature", finding.feature},   {"kind", finding.kind},
              {"baseline", finding.baseline}, {"candidate", finding.candidate},
              {"cases", finding.cases},       {"message", finding.message},
              {"p_value", finding.p_value}};
}

} // namespace promptops::golden
