#include "golden/drift.hpp"

#include "evaluators/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <utility>

namespace promptops::golden {

namespace {

using json = nlohmann::json;
namespace text = evaluators::text;

// Findings come in this order: the order of docs/drift.md. Features that a newer promptops
// may have written follow, sorted by name.
constexpr std::array<std::string_view, 21> k_order = {"json",
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

// ln(k!) for k = 0..n, summed once per comparison.
std::vector<double> log_factorials(std::size_t n) {
  std::vector<double> table(n + 1, 0.0);
  for (std::size_t k = 2; k <= n; ++k) {
    table[k] = table[k - 1] + std::log(static_cast<double>(k));
  }
  return table;
}

double fisher_with(const std::vector<double>& lf, std::size_t a, std::size_t b, std::size_t c,
                   std::size_t d) {
  const std::size_t n = a + b + c + d;
  const std::size_t row1 = a + b;
  const std::size_t row2 = c + d;
  const std::size_t col1 = a + c;
  const double denominator = lf[n] - lf[col1] - lf[n - col1];
  // The probability of the table whose top-left cell is `x` (hypergeometric).
  const auto log_p = [&](std::size_t x) {
    return lf[row1] - lf[x] - lf[row1 - x] + lf[row2] - lf[col1 - x] - lf[row2 - col1 + x] -
           denominator;
  };
  const double observed = log_p(a);
  const std::size_t low = col1 > row2 ? col1 - row2 : 0;
  const std::size_t high = std::min(row1, col1);
  double p = 0;
  for (std::size_t x = low; x <= high; ++x) {
    // The relative tolerance of R's fisher.test, so that equal probabilities count as equal.
    if (const double lp = log_p(x); lp <= observed + 1e-7) {
      p += std::exp(lp);
    }
  }
  return std::min(1.0, p);
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

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
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

struct Comparison {
  const std::vector<const Fingerprint*>& baseline;
  const std::vector<const Fingerprint*>& run;
  const Side& baseline_side;
  const Side& run_side;
  const DriftOptions& options;
  std::size_t features = 1; // the Bonferroni factor
  std::vector<double> log_factorial;

  std::optional<DriftFinding> categorical(std::string_view feature) const;
  std::optional<DriftFinding> numeric(std::string_view feature) const;

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

std::optional<DriftFinding> Comparison::categorical(std::string_view feature) const {
  const auto b_it = baseline_side.categorical.find(feature);
  const auto r_it = run_side.categorical.find(feature);
  if (b_it == baseline_side.categorical.end() || r_it == run_side.categorical.end()) {
    return std::nullopt;
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

  struct Candidate {
    std::string value;
    double change = 0; // the change in share, rising > 0
    double p = 1;
  };
  std::optional<Candidate> rise;
  std::optional<Candidate> fall;
  constexpr double k_epsilon = 1e-12;
  for (const std::string& value : values) {
    const std::size_t a = count_in(b, value);
    const std::size_t c = count_in(r, value);
    const double change = static_cast<double>(c) / static_cast<double>(r.defined) -
                          static_cast<double>(a) / static_cast<double>(b.defined);
    if (std::abs(change) + k_epsilon < options.min_effect) {
      continue;
    }
    const double p = std::min(1.0, fisher_with(log_factorial, a, b.defined - a, c, r.defined - c) *
                                       static_cast<double>(features));
    if (p >= options.alpha) {
      continue;
    }
    const Candidate candidate{value, change, p};
    const auto better = [](const std::optional<Candidate>& best, const Candidate& x) {
      return !best || std::abs(x.change) > std::abs(best->change) ||
             (std::abs(x.change) == std::abs(best->change) && x.p < best->p);
    };
    if (change > 0 && c >= options.min_cases && better(rise, candidate)) {
      rise = candidate;
    } else if (change < 0 && r.defined - c >= options.min_cases && better(fall, candidate)) {
      fall = candidate;
    }
  }
  if (!rise && !fall) {
    return std::nullopt;
  }

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

  DriftFinding f;
  f.feature = show(feature, 40);
  const bool rise_named = rise && rise->value != w.neutral;
  const bool fall_named = fall && fall->value != w.neutral;
  if (rise && (rise_named || !fall_named)) {
    const std::size_t a = count_in(b, rise->value);
    const std::size_t c = count_in(r, rise->value);
    const Evidence e = evidence(run, feature, raw(r, rise->value), w.excerpt);
    f.baseline = count_of(a, b.defined);
    f.candidate = count_of(c, r.defined) + " (" + display(feature, raw(r, rise->value)) + ")";
    f.cases = c;
    f.p_value = rise->p;
    f.indices = outputs_with(feature, rise->value, true);
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
      f.message = "the JSON shape changed in " + counts + " (" + since + ": " + changes;
    } else if (rise_named && fall_named && !w.label.empty()) {
      f.message = std::string(w.label) + " changed from " + display(feature, raw(b, fall->value)) +
                  " to " + display(feature, raw(r, rise->value)) + " in " + counts + " (" + since;
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
  f.cases = r.defined - c;
  f.p_value = fall->p;
  f.indices = outputs_with(feature, fall->value, false);
  if (neutral) {
    // "Something" rose, spread over many values: count the outputs without the neutral value.
    f.baseline = count_of(b.defined - a, b.defined);
    f.candidate = count_of(r.defined - c, r.defined);
    f.message = count_of(r.defined - c, r.defined) + " " + population + " " +
                predicate(feature, value, e) + " (baseline " + count_of(b.defined - a, b.defined) +
                ")";
    return f;
  }
  f.baseline = count_of(a, b.defined);
  f.candidate = count_of(c, r.defined) + " (" + display(feature, value) + ")";
  const std::string subject =
      c == 0 ? "no " + population : "only " + count_of(c, r.defined) + " " + population;
  if (feature == "json_shape") {
    f.message = subject + " now have the JSON shape " + show(value, 80) + " (baseline " +
                count_of(a, b.defined) + ")";
  } else {
    f.message = subject + " " + predicate(feature, value, e) + " (" + quoted(e) + "baseline " +
                count_of(a, b.defined) + ")";
  }
  return f;
}

std::optional<DriftFinding> Comparison::numeric(std::string_view feature) const {
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
  const double p = std::min(1.0, mann_whitney(x, y) * static_cast<double>(features));
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
  std::string unit;
  std::string what;
  if (feature == "length") {
    what = "median length";
    unit = bound == 1 ? " character" : " characters";
  } else if (feature == "lines") {
    what = "median line count";
    unit = bound == 1 ? " line" : " lines";
  } else {
    what = "median " + show(feature, 40);
  }
  DriftFinding f;
  f.feature = show(feature, 40);
  f.baseline = "median " + show_number(before);
  f.candidate = "median " + show_number(after);
  f.cases = cases;
  f.p_value = p;
  f.indices = std::move(indices);
  f.message = what + (rose ? " rose" : " fell") + " from " + show_number(before) + " to " +
              show_number(after) + (feature == "length" ? " characters" : "") + "; " +
              count_of(cases, y.size()) + " outputs now have " + (rose ? "at least " : "at most ") +
              show_number(bound) + unit + " (baseline " + count_of(beyond(x), x.size()) + ")";
  return f;
}

} // namespace

double fisher_exact(std::size_t a, std::size_t b, std::size_t c, std::size_t d) {
  return fisher_with(log_factorials(a + b + c + d), a, b, c, d);
}

double mann_whitney(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n1 = x.size();
  const std::size_t n2 = y.size();
  if (n1 == 0 || n2 == 0) {
    return 1;
  }
  std::vector<std::pair<double, bool>> all; // value, from x
  all.reserve(n1 + n2);
  for (const double v : x) {
    all.emplace_back(v, true);
  }
  for (const double v : y) {
    all.emplace_back(v, false);
  }
  std::sort(all.begin(), all.end(), [](const auto& l, const auto& r) { return l.first < r.first; });
  const double n = static_cast<double>(n1 + n2);
  double rank_sum = 0; // of x
  double ties = 0;     // sum of t^3 - t over groups of equal values
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) {
      ++j;
    }
    const double t = static_cast<double>(j - i);
    const double rank = static_cast<double>(i + j + 1) / 2; // 1-based ranks i+1..j, averaged
    for (std::size_t k = i; k < j; ++k) {
      rank_sum += all[k].second ? rank : 0;
    }
    ties += t * t * t - t;
    i = j;
  }
  const double m1 = static_cast<double>(n1);
  const double m2 = static_cast<double>(n2);
  const double u = rank_sum - m1 * (m1 + 1) / 2;
  const double mean = m1 * m2 / 2;
  const double variance = m1 * m2 / 12 * ((n + 1) - ties / (n * (n - 1)));
  if (!(variance > 0)) {
    return 1;
  }
  const double z = std::max(0.0, std::abs(u - mean) - 0.5) / std::sqrt(variance);
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

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
  if (baseline.empty() || run.empty()) {
    return {};
  }
  const Side baseline_side = gather(baseline);
  const Side run_side = gather(run);
  // The features present on both sides, in report order; categorical first when a name is both.
  std::vector<std::pair<std::string, bool>> features; // name, numeric
  for (const auto& [name, tally] : run_side.categorical) {
    if (baseline_side.categorical.contains(name)) {
      features.emplace_back(name, false);
    }
  }
  for (const auto& [name, values] : run_side.numeric) {
    if (baseline_side.numeric.contains(name)) {
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

  Comparison comparison{baseline,
                        run,
                        baseline_side,
                        run_side,
                        options,
                        std::max<std::size_t>(1, features.size()),
                        log_factorials(baseline.size() + run.size())};
  std::vector<DriftFinding> findings;
  for (const auto& [name, numeric] : features) {
    auto finding = numeric ? comparison.numeric(name) : comparison.categorical(name);
    if (finding) {
      findings.push_back(std::move(*finding));
    }
  }
  // A fenced output is "one fence and nothing else" unless it has text before or after its
  // fence: when either of those drifted, whole_fence says the same again.
  const auto reported = [&](std::string_view name) {
    return std::any_of(findings.begin(), findings.end(),
                       [&](const DriftFinding& f) { return f.feature == name; });
  };
  if (reported("preamble") || reported("trailing_text")) {
    std::erase_if(findings, [](const DriftFinding& f) { return f.feature == "whole_fence"; });
  }
  return findings;
}

json to_json(const DriftFinding& finding) {
  return json{{"feature", finding.feature},     {"baseline", finding.baseline},
              {"candidate", finding.candidate}, {"cases", finding.cases},
              {"message", finding.message},     {"p_value", finding.p_value}};
}

} // namespace promptops::golden
