// Calibration of format-drift detection (issue 15): how often golden::detect_drift catches a
// partial rollout of each kind of form change, and how often it raises a false alarm on
// controls that carry real variability. A measurement, not a test: it prints Markdown tables
// for docs/drift.md, the command line that made them and a "targets" block, and exits 0
// whatever the numbers are.
//
//   drift_calibration [--sensitivity low|default|high|all] [--draws 200]
//                     [--control-draws 2000] [--sizes 8,12,20,50,200,1000] [--threads 2]
//                     [--seed 1] [--rollout-among all|old] [--full] [--examples]
//
// The outputs are generated, each case with its own content (drawn from the seed, the cell and
// the case index), in five families: JSON answers (snake_case objects), Python code answers
// (LeetCode style), option-letter answers (OpinionQA style: "(B). Somewhat", "B) ...",
// "B. ..."), reasoning that ends in a "[Yes]"/"[No]" tag, and markdown prose. Every output
// is one sample of a model: its minor features (bold, list marker, quote style, a final line
// break, a length within +-15%) are drawn per sample around the case's usual values, so that
// each differs in 10-20% of the cases between two samples, as resampling does.
//
// Detection: a suite of one family; the baseline is one sample, the run another in which
// exactly round(share * n) cases, chosen at random, have the drift kind's new form; from a
// zero baseline rate, and from a 10% rate (round(0.1 * n) cases have the new form on both
// sides already; the rollout picks among the cases that still have the old form, so that every
// pick changes and a 20% rollout changes 20% of the outputs (docs/drift.md's definition), or
// with --rollout-among all among all cases). A draw counts as caught when a finding
// names one of the kind's features. False alarms: suites that mix two families (70% and 30%),
// compared with (a) the same outputs, (b) the same outputs given to other cases (a random
// permutation: content moves, form holds), (c) a second sample of every case; any finding is a
// false alarm. Every output is fingerprinted once, and its fingerprint reused in every cell.
#include "golden/drift.hpp"
#include "golden/fingerprint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace golden = promptops::golden;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// Random numbers: splitmix64, seeded from the cell and the draw, so that results do not depend
// on the number of threads or the order of the work.

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31U);
}

std::uint64_t seed_of(std::initializer_list<std::uint64_t> parts) {
  std::uint64_t state = 0x5EEDULL;
  std::uint64_t h = 0;
  for (const std::uint64_t p : parts) {
    state ^= p + h;
    h = splitmix(state);
  }
  return h;
}

class Rng {
public:
  explicit Rng(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() { return splitmix(m_state); }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  int between(int lo, int hi) {
    return lo + static_cast<int>(below(static_cast<std::size_t>(hi - lo + 1)));
  }
  double uniform() { return static_cast<double>(next() >> 11U) * 0x1.0p-53; }
  bool chance(double p) { return uniform() < p; }
  template <class C> const auto& pick(const C& c) { return c[below(std::size(c))]; }

private:
  std::uint64_t m_state;
};

// `k` distinct positions out of `n`, at random.
std::vector<bool> choose(std::size_t n, std::size_t k, Rng& rng) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) {
    order[i] = i;
  }
  std::vector<bool> chosen(n, false);
  for (std::size_t i = 0; i < k && i < n; ++i) {
    std::swap(order[i], order[i + rng.below(n - i)]);
    chosen[order[i]] = true;
  }
  return chosen;
}

std::size_t share_of(double share, std::size_t n) {
  return static_cast<std::size_t>(std::lround(share * static_cast<double>(n)));
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos)) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// Straight quotes and apostrophes made curly: ' -> ’, "..." -> “...”.
std::string curly(std::string_view s) {
  std::string out;
  bool open = true;
  for (const char c : s) {
    if (c == '\'') {
      out += "\xE2\x80\x99";
    } else if (c == '"') {
      out += open ? "\xE2\x80\x9C" : "\xE2\x80\x9D";
      open = !open;
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Word banks. Content is drawn from them per case; what a fingerprint sees (the form) comes from
// the family, the suite's style, the sample's minor features and the drift.

constexpr std::array<std::string_view, 16> k_subjects = {
    "A short daily walk",   "Regular sleep",
    "Writing things down",  "A simple budget",
    "Good lighting",        "Drinking enough water",
    "Saying no to extras",  "A clear agenda",
    "Batching small tasks", "Checking in weekly",
    "A tidy workspace",     "Reading the fine print",
    "Turning off alerts",   "Asking one more question",
    "Planning meals ahead", "Keeping a spare key"};
constexpr std::array<std::string_view, 14> k_predicates = {"makes it easier to focus",
                                                           "helps you notice patterns early",
                                                           "keeps small problems from growing",
                                                           "saves more time than it costs",
                                                           "is easy to start and hard to regret",
                                                           "lowers the stress of a busy week",
                                                           "means there's less to remember",
                                                           "gives you a clear next step",
                                                           "tends to pay off quickly",
                                                           "won't fix everything but it helps",
                                                           "cuts down on last-minute surprises",
                                                           "makes the rest of the day calmer",
                                                           "is what most people underestimate",
                                                           "builds a habit that's hard to lose"};
constexpr std::array<std::string_view, 12> k_tails = {"over a few weeks",
                                                      "for most people",
                                                      "even on busy days",
                                                      "when you're tired",
                                                      "if you don't overthink it",
                                                      "in the long run",
                                                      "at home and at work",
                                                      "once it's routine",
                                                      "without much effort",
                                                      "for a small cost",
                                                      "as long as you're consistent",
                                                      "before you know it"};
constexpr std::array<std::string_view, 6> k_closings = {
    "As one reader put it, \"it's the habit, not the tool.\"",
    "A friend calls this \"the boring secret\", and she's right.",
    "Think of it as \"future you\" saying thanks.",
    "The rule of thumb: \"small steps add up.\"",
    "Don't wait for the \"perfect\" moment to begin.",
    "If it feels \"too simple\", that's the point."};

// A sentence of prose: words only, ending in a period.
std::string sentence(Rng& rng) {
  std::string s(rng.pick(k_subjects));
  s += ' ';
  s += rng.pick(k_predicates);
  s += ' ';
  s += rng.pick(k_tails);
  s += '.';
  return s;
}

// Words of prose, at least `budget` characters, ending in a period.
std::string words_of(Rng& rng, std::size_t budget) {
  std::string out;
  while (out.size() < budget) {
    std::string s = sentence(rng);
    s.pop_back();
    std::size_t pos = 0;
    while (pos < s.size() && out.size() < budget) {
      std::size_t end = s.find(' ', pos);
      end = end == std::string::npos ? s.size() : end;
      if (!out.empty()) {
        out += ' ';
      }
      out.append(s, pos, end - pos);
      pos = end + 1;
    }
    if (out.size() < budget) {
      out += '.';
    }
  }
  if (out.back() != '.') {
    out += '.';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Families, cases, samples.

enum class Family { json, python, option, tagged, prose };
constexpr std::array<Family, 5> k_families = {Family::json, Family::python, Family::option,
                                              Family::tagged, Family::prose};

// What a suite's prompt fixes for all its cases.
struct SuiteStyle {
  int option_form = 0;        // 0 "(B). Somewhat", 1 "B) Somewhat", 2 "B. Somewhat"
  bool python_fenced = false; // code comes in ```python fences already
  bool json_pretty = false;   // JSON over several lines
  std::size_t schema = 0;     // which JSON object the prompt asks for
  double flip = 0.1;          // chance that a sample's minor feature leaves the usual value
};

SuiteStyle draw_style(Rng& rng) {
  SuiteStyle style;
  style.option_form = rng.between(0, 2);
  style.python_fenced = rng.chance(0.5);
  style.json_pretty = rng.chance(0.5);
  style.schema = rng.below(4);
  // Two independent samples differ with chance 2q(1-q): 10% at q = 0.053, 20% at q = 0.138.
  style.flip = 0.053 + 0.085 * rng.uniform();
  return style;
}

// One case: its content (a seed) and the usual values of its minor features.
struct CaseSpec {
  Family family = Family::json;
  std::uint64_t content = 0;
  bool bold = false;
  bool star_list = false;
  bool curly = false;
  bool final_newline = false;
};

CaseSpec draw_case(Family family, Rng& rng) {
  CaseSpec spec;
  spec.family = family;
  spec.content = rng.next();
  spec.bold = rng.chance(0.5);
  spec.star_list = rng.chance(0.3);
  spec.curly = rng.chance(0.3);
  spec.final_newline = rng.chance(0.4);
  return spec;
}

// One sample of a case: its minor features as this sample has them.
struct Sample {
  bool bold = false;
  bool star_list = false;
  bool curly = false;
  bool final_newline = false;
  double length = 1;
};

Sample draw_sample(const CaseSpec& spec, const SuiteStyle& style, Rng& rng) {
  const auto flip = [&](bool usual) { return rng.chance(style.flip) ? !usual : usual; };
  Sample s;
  s.bold = flip(spec.bold);
  s.star_list = flip(spec.star_list);
  s.curly = flip(spec.curly);
  s.final_newline = flip(spec.final_newline);
  s.length = 0.85 + 0.3 * rng.uniform();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Drift kinds: one per form feature that issue 15 names.

enum class Kind {
  fence_json,
  key_case,
  preamble,
  fence_python,
  fence_lang,
  option_style,
  option_moves,
  hedge,
  refusal,
  tag_start,
  tag_only,
  verbose,
  terse,
};

struct KindInfo {
  Kind kind;
  std::string_view name;
  Family family;
  std::string_view what;
  std::vector<std::string_view> features; // a finding on any of them catches the drift
};

const std::vector<KindInfo>& kinds() {
  static const std::vector<KindInfo> k_kinds = {
      {Kind::fence_json,
       "fence_json",
       Family::json,
       "JSON now in ```json fences",
       {"code_fence", "whole_fence"}},
      {Kind::key_case, "key_case", Family::json, "JSON keys snake_case -> camelCase", {"key_case"}},
      {Kind::preamble,
       "preamble",
       Family::json,
       "text before the JSON (\"Sure! Here is...\")",
       {"preamble"}},
      {Kind::fence_python,
       "fence_python",
       Family::python,
       "code now in ```python fences",
       {"code_fence", "whole_fence"}},
      {Kind::fence_lang, "fence_lang", Family::python, "```python -> ``` or ```py", {"code_fence"}},
      {Kind::option_style,
       "option_style",
       Family::option,
       "option letter style, (B). -> B.",
       {"answer_tag_style"}},
      {Kind::option_moves,
       "option_moves",
       Family::option,
       "the option letter stops leading",
       {"answer_tag"}},
      {Kind::hedge,
       "hedge",
       Family::option,
       "hedging prose replaces the option letter",
       {"hedge", "answer_tag"}},
      {Kind::refusal,
       "refusal",
       Family::option,
       "a refusal replaces the option letter",
       {"refusal", "answer_tag"}},
      {Kind::tag_start,
       "tag_start",
       Family::tagged,
       "[Yes]/[No] moves from the end to the start",
       {"answer_tag"}},
      {Kind::tag_only,
       "tag_only",
       Family::tagged,
       "the output becomes the [Yes]/[No] tag only",
       {"answer_tag", "length", "lines"}},
      {Kind::verbose, "verbose", Family::prose, "prose answers 3x longer", {"length", "lines"}},
      {Kind::terse, "terse", Family::prose, "prose answers 3x shorter", {"length", "lines"}},
  };
  return k_kinds;
}

// ---------------------------------------------------------------------------------------------
// Rendering one output: the case's content, in the sample's minor features, in the base form or
// in the drift kind's new form.

struct Field {
  std::string_view key;
  char type; // n number, d decimal, s a string of `values`, t free text, b bool, a array
  std::vector<std::string_view> values = {};
  int low = 1; // the range of a number (a decimal: in hundredths)
  int high = 99999;
};

struct Schema {
  std::vector<Field> fields;
  Field optional; // present in about half of the cases
};

const std::array<Schema, 4>& schemas() {
  static const std::vector<std::string_view> k_names = {"Ana Lima",   "Jon Park",    "Priya Nair",
                                                        "Tom Becker", "Lucia Ortiz", "Sam Okafor"};
  static const std::array<Schema, 4> k_schemas = {{
      {{{"order_id", 'n', {}, 10000, 99999},
        {"customer_name", 's', k_names},
        {"total_amount", 'd', {}, 500, 50000},
        {"is_priority", 'b'},
        {"delivery_note", 't'}},
       {"gift_message", 't'}},
      {{{"ticket_id", 'n', {}, 1000, 9999},
        {"issue_category", 's', {"billing", "login", "shipping", "refund", "bug_report"}},
        {"severity_level", 's', {"low", "medium", "high", "critical"}},
        {"needs_follow_up", 'b'},
        {"summary_text", 't'}},
       {"assigned_team", 's', {"support", "payments", "logistics", "platform"}}},
      {{{"product_name", 's', {"Kestrel Lamp", "Orbit Kettle", "Trail Pack 30", "Nova Earbuds"}},
        {"star_rating", 'n', {}, 1, 5},
        {"sentiment_label", 's', {"positive", "negative", "mixed", "neutral"}},
        {"key_points", 'a'},
        {"review_summary", 't'}},
       {"reviewer_name", 's', k_names}},
      {{{"event_name", 's', {"Spring Fair", "Jazz on the Pier", "Code Camp", "Night Market"}},
        {"start_date", 's', {"2024-05-17", "2024-06-02", "2024-07-21", "2024-09-08"}},
        {"venue_city", 's', {"Porto", "Leeds", "Austin", "Osaka", "Lyon"}},
        {"ticket_price", 'd', {}, 0, 12000},
        {"event_description", 't'}},
       {"age_limit", 'n', {}, 12, 21}},
  }};
  return k_schemas;
}

std::string camel(std::string_view key) {
  std::string out;
  bool upper = false;
  for (const char c : key) {
    if (c == '_') {
      upper = true;
    } else {
      out += upper ? static_cast<char>(c - 'a' + 'A') : c;
      upper = false;
    }
  }
  return out;
}

std::string render_json(const CaseSpec& spec, const SuiteStyle& style, const Sample& sample,
                        std::optional<Kind> drift) {
  Rng content(spec.content);
  const Schema& schema = schemas()[style.schema];
  std::vector<Field> fields = schema.fields;
  if (content.chance(0.5)) {
    fields.push_back(schema.optional);
  }
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const Field& f : fields) {
    const std::string key = drift == Kind::key_case ? camel(f.key) : std::string(f.key);
    switch (f.type) {
    case 'n':
      object[key] = content.between(f.low, f.high);
      break;
    case 'd':
      object[key] = static_cast<double>(content.between(f.low, f.high)) / 100.0;
      break;
    case 's':
      object[key] = std::string(content.pick(f.values));
      break;
    case 'b':
      object[key] = content.chance(0.5);
      break;
    case 'a': {
      nlohmann::ordered_json items = nlohmann::ordered_json::array();
      const int count = content.between(1, 4);
      for (int i = 0; i < count; ++i) {
        items.push_back(std::string(content.pick(k_predicates)));
      }
      object[key] = items;
      break;
    }
    default: {
      const auto budget = static_cast<double>(content.between(40, 220));
      Rng words(content.next());
      std::string text = words_of(words, static_cast<std::size_t>(budget * sample.length));
      object[key] = sample.curly ? curly(text) : text;
      break;
    }
    }
  }
  std::string out = object.dump(style.json_pretty ? 2 : -1);
  if (drift == Kind::fence_json) {
    out = "```json\n" + out + "\n```";
  } else if (drift == Kind::preamble) {
    static constexpr std::array<std::string_view, 5> k_preambles = {
        "Sure! Here is the JSON you asked for:", "Here's the extracted data:",
        "Certainly. The result in JSON format:", "Below is the structured output.",
        "Here is the information as JSON:"};
    out = std::string(content.pick(k_preambles)) + (content.chance(0.5) ? "\n\n" : "\n") + out;
  }
  return out;
}

constexpr std::array<std::string_view, 6> k_python = {
    "class Solution:\n"
    "    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
    "@C"
    "        @A = {}\n"
    "        for i, @B in enumerate(nums):\n"
    "            if target - @B in @A:\n"
    "                return [@A[target - @B], i]\n"
    "            @A[@B] = i\n"
    "        return []",
    "class Solution:\n"
    "    def isValid(self, s: str) -> bool:\n"
    "@C"
    "        @A = []\n"
    "        pairs = {\")\": \"(\", \"]\": \"[\", \"}\": \"{\"}\n"
    "        for @B in s:\n"
    "            if @B in pairs:\n"
    "                if not @A or @A.pop() != pairs[@B]:\n"
    "                    return False\n"
    "            else:\n"
    "                @A.append(@B)\n"
    "        return not @A",
    "class Solution:\n"
    "    def maxProfit(self, prices: List[int]) -> int:\n"
    "@C"
    "        @A = float(\"inf\")\n"
    "        @B = 0\n"
    "        for price in prices:\n"
    "            @A = min(@A, price)\n"
    "            @B = max(@B, price - @A)\n"
    "        return @B",
    "class Solution:\n"
    "    def climbStairs(self, n: int) -> int:\n"
    "@C"
    "        @A, @B = 1, 1\n"
    "        for _ in range(n):\n"
    "            @A, @B = @B, @A + @B\n"
    "        return @A",
    "class Solution:\n"
    "    def lengthOfLongestSubstring(self, s: str) -> int:\n"
    "@C"
    "        @A = {}\n"
    "        start = @B = 0\n"
    "        for i, ch in enumerate(s):\n"
    "            if ch in @A and @A[ch] >= start:\n"
    "                start = @A[ch] + 1\n"
    "            @A[ch] = i\n"
    "            @B = max(@B, i - start + 1)\n"
    "        return @B",
    "class Solution:\n"
    "    def isHappy(self, n: int) -> bool:\n"
    "@C"
    "        @A = set()\n"
    "        while n != 1 and n not in @A:\n"
    "            @A.add(n)\n"
    "            n = sum(int(d) ** 2 for d in str(n))\n"
    "        return n == 1",
};

std::string render_python(const CaseSpec& spec, const SuiteStyle& style, const Sample& sample,
                          std::optional<Kind> drift) {
  static constexpr std::array<std::string_view, 5> k_a = {"seen", "memo", "lookup", "table",
                                                          "state"};
  static constexpr std::array<std::string_view, 5> k_b = {"best", "value", "cur", "item", "x"};
  static constexpr std::array<std::string_view, 5> k_comments = {
      "# one pass over the input", "# O(n) time, O(n) extra space",
      "# keep what we have seen so far", "# the answer so far", "# constant extra space"};
  Rng content(spec.content);
  std::string code(content.pick(k_python));
  replace_all(code, "@A", content.pick(k_a));
  replace_all(code, "@B", content.pick(k_b));
  // Comment lines: the case's usual count, one more or one fewer in a longer or shorter sample.
  int comments = content.between(0, 2);
  comments += sample.length > 1.08 ? 1 : sample.length < 0.92 ? -1 : 0;
  std::string comment_lines;
  for (int i = 0; i < comments; ++i) {
    comment_lines += "        " + std::string(content.pick(k_comments)) + "\n";
  }
  replace_all(code, "@C", comment_lines);
  if (content.chance(0.5)) {
    code = "from typing import List\n\n" + code;
  }
  const bool fenced = style.python_fenced || drift == Kind::fence_python;
  if (fenced) {
    std::string lang = "python";
    if (drift == Kind::fence_lang) {
      lang = content.chance(0.5) ? "" : "py";
    }
    code = "```" + lang + "\n" + code + "\n```";
    // Some fenced answers come after a line of text (3 of 44 in Chen et al.).
    if (drift == Kind::fence_python && content.chance(0.1)) {
      code = "Here is the solution:\n\n" + code;
    }
  }
  return code;
}

constexpr std::array<std::array<std::string_view, 4>, 6> k_option_sets = {{
    {"Very likely", "Somewhat likely", "Not too likely", "Not at all likely"},
    {"A great deal", "A fair amount", "Not too much", "Not at all"},
    {"Strongly agree", "Somewhat agree", "Somewhat disagree", "Strongly disagree"},
    {"Very important", "Somewhat important", "Not too important", "Not at all important"},
    {"Major reason", "Minor reason", "Not a reason", "Refused"},
    {"Better", "Worse", "About the same", "Not sure"},
}};

std::string option_answer(int form, char letter, std::string_view text) {
  switch (form) {
  case 0:
    return std::string("(") + letter + "). " + std::string(text);
  case 1:
    return std::string(1, letter) + ") " + std::string(text);
  default:
    return std::string(1, letter) + ". " + std::string(text);
  }
}

std::string lower_first(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z') {
    out[0] = static_cast<char>(out[0] - 'A' + 'a');
  }
  return out;
}

std::string render_option(const CaseSpec& spec, const SuiteStyle& style, const Sample& sample,
                          std::optional<Kind> drift) {
  Rng content(spec.content);
  const auto& options = content.pick(k_option_sets);
  const std::size_t index = content.below(options.size());
  const char letter = static_cast<char>('A' + index);
  const std::string_view text = options[index];
  std::string out;
  if (drift == Kind::option_style) {
    out = option_answer((style.option_form + 1) % 3, letter, text);
  } else if (drift == Kind::option_moves) {
    out = content.chance(0.5) ? std::string(text) + " (" + letter + ")."
                              : "I would say " + lower_first(text) + ".";
  } else if (drift == Kind::hedge) {
    static constexpr std::array<std::string_view, 6> k_hedges = {
        "That depends on personal views and circumstances; some people would say @, others "
        "would not.",
        "It depends on the individual and their situation, so there's no single right answer.",
        "This really depends on personal values and experiences, and people will answer "
        "differently.",
        "The answer depends on one's own perspective; reasonable people disagree on this.",
        "That depends on many factors, including personal circumstances and beliefs.",
        "It depends. Some would choose \"@\", while others would pick something else."};
    out = std::string(content.pick(k_hedges));
    replace_all(out, "@", lower_first(text));
  } else if (drift == Kind::refusal) {
    static constexpr std::array<std::string_view, 4> k_refusals = {
        "I'm sorry, but I can't share personal opinions on this question.",
        "As an AI, I don't have personal views, so I can't pick an option.",
        "I cannot choose an answer on your behalf; it is a matter of personal opinion.",
        "I'm unable to answer that, as I don't hold personal opinions."};
    out = std::string(content.pick(k_refusals));
  } else {
    out = option_answer(style.option_form, letter, text);
  }
  return sample.curly ? curly(out) : out;
}

bool is_prime(int n) {
  if (n < 2) {
    return false;
  }
  for (int d = 2; d * d <= n; ++d) {
    if (n % d == 0) {
      return false;
    }
  }
  return true;
}

std::string render_tagged(const CaseSpec& spec, const Sample& sample, std::optional<Kind> drift) {
  Rng content(spec.content);
  const bool want_prime = content.chance(0.5);
  int n = 0;
  int divisor = 0;
  do {
    n = 2 * content.between(500, 14999) + 1;
    divisor = 0;
    for (int d = 3; d * d <= n; d += 2) {
      if (n % d == 0) {
        divisor = d;
        break;
      }
    }
  } while (want_prime ? divisor != 0 : (divisor < 7 || divisor > 40));
  const std::string tag = divisor == 0 ? "[Yes]" : "[No]";
  if (drift == Kind::tag_only) {
    return tag;
  }
  const std::string num = std::to_string(n);
  const int root = static_cast<int>(std::sqrt(static_cast<double>(n)));
  const char marker = sample.star_list ? '*' : '-';
  std::string out = "To decide whether " + num +
                    " is prime, test it for divisibility by the primes up to \xE2\x88\x9A" + num +
                    " \xE2\x89\x88 " + std::to_string(root) + ".\n";
  const int shown =
      divisor == 0 ? static_cast<int>(std::lround(content.between(5, 9) * sample.length)) : 1 << 30;
  int count = 0;
  for (int p = 3; p <= root && count < shown; p += 2) {
    if (!is_prime(p)) {
      continue;
    }
    ++count;
    if (n % p == 0) {
      out += std::string(1, marker) + " " + num + " \xC3\xB7 " + std::to_string(p) + " = " +
             std::to_string(n / p) + " exactly, so " + std::to_string(p) + " divides it.\n";
      break;
    }
    out += std::string(1, marker) + " " + num + " \xC3\xB7 " + std::to_string(p) +
           " leaves a remainder of " + std::to_string(n % p) + ".\n";
  }
  const std::string shown_num = sample.bold ? "**" + num + "**" : num;
  if (divisor == 0) {
    out += "No prime up to " + std::to_string(root) + " divides it, so " + shown_num +
           " is a prime number. " + tag;
  } else {
    out += "So " + shown_num + " = " + std::to_string(divisor) + " \xC3\x97 " +
           std::to_string(n / divisor) + " is not a prime number. " + tag;
  }
  if (drift == Kind::tag_start) {
    out = tag + " " + out.substr(0, out.size() - tag.size() - 1);
  }
  return out;
}

std::string render_prose(const CaseSpec& spec, const Sample& sample, std::optional<Kind> drift) {
  Rng content(spec.content);
  double budget = content.between(350, 700) * sample.length;
  if (drift == Kind::verbose) {
    budget *= 3;
  } else if (drift == Kind::terse) {
    budget /= 3;
  }
  const auto total = static_cast<std::size_t>(budget);
  const std::string marker = sample.star_list ? "* " : "- ";
  const auto bolded = [&](std::string s) {
    if (!sample.bold) {
      return s;
    }
    for (const std::string_view subject : k_subjects) {
      if (s.starts_with(subject)) {
        return "**" + std::string(subject) + "**" + s.substr(subject.size());
      }
    }
    return s;
  };
  Rng words(content.next());
  if (drift == Kind::terse) {
    // A third of the length leaves no room for the list and the closing: one short paragraph.
    const std::string out = bolded(words_of(words, total));
    return sample.curly ? curly(out) : out;
  }
  std::string out = bolded(sentence(words));
  while (out.size() < total / 4) {
    out += ' ' + sentence(words);
  }
  out += "\n\n";
  const std::size_t list_end = total * 3 / 4;
  bool first = true;
  do {
    out += marker + (first ? bolded(sentence(words)) : sentence(words)) + "\n";
    first = false;
  } while (out.size() < list_end);
  out += '\n';
  const std::string_view closing = content.pick(k_closings);
  while (out.size() + closing.size() < total) {
    out += sentence(words) + ' ';
  }
  out += closing;
  return sample.curly ? curly(out) : out;
}

std::string render(const CaseSpec& spec, const SuiteStyle& style, const Sample& sample,
                   std::optional<Kind> drift) {
  std::string out;
  switch (spec.family) {
  case Family::json:
    out = render_json(spec, style, sample, drift);
    break;
  case Family::python:
    out = render_python(spec, style, sample, drift);
    break;
  case Family::option:
    out = render_option(spec, style, sample, drift);
    break;
  case Family::tagged:
    out = render_tagged(spec, sample, drift);
    break;
  case Family::prose:
    out = render_prose(spec, sample, drift);
    break;
  }
  if (sample.final_newline) {
    out += '\n';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The measurement grid and its tallies.

constexpr std::array<double, 5> k_shares = {0.1, 0.2, 0.3, 0.5, 1.0};
constexpr std::size_t k_share_20 = 1;
constexpr std::array<double, 2> k_rates = {0.0, 0.1};
constexpr std::array<std::string_view, 3> k_controls = {"same outputs", "outputs permuted",
                                                        "two samples"};
constexpr std::array<std::string_view, 2> k_target_names = {
    "option letters replaced by hedging prose", "[Yes]/[No] moved from the end to the start"};
constexpr std::array<Kind, 2> k_target_kinds = {Kind::hedge, Kind::tag_start};

struct Config {
  std::vector<golden::DriftSensitivity> sensitivities = {golden::DriftSensitivity::standard};
  std::string sensitivity_name = "default";
  std::size_t draws = 200;
  std::size_t control_draws = 2000;
  std::vector<std::size_t> sizes = {8, 12, 20, 50, 200, 1000};
  unsigned threads = 2;
  std::uint64_t seed = 1;
  bool full = false;
  bool examples = false;
  // From a 10% baseline rate, the rollout picks among the cases that still have the old form
  // ("old", the default: every pick changes), or among all cases (some have the new form).
  bool among_old = true;
};

struct Tally {
  std::size_t n_sens = 0;
  std::size_t n_sizes = 0;
  // detected[sens][kind][share][rate][size]
  std::vector<std::uint64_t> detected;
  // targets[sens][target]
  std::vector<std::uint64_t> targets;
  // alarms[sens][control][size]
  std::vector<std::uint64_t> alarms;
  // Features reported in the 20% cells, per sensitivity and kind; and behind false alarms, per
  // sensitivity and control.
  std::vector<std::map<std::string, std::uint64_t>> features_20;
  std::vector<std::map<std::string, std::uint64_t>> alarm_features;
  double fingerprint_seconds = 0;
  double detect_seconds = 0;
  std::uint64_t fingerprints = 0;
  std::uint64_t detect_calls = 0;

  Tally(std::size_t sens, std::size_t sizes)
      : n_sens(sens), n_sizes(sizes),
        detected(sens * kinds().size() * k_shares.size() * k_rates.size() * sizes),
        targets(sens * k_target_kinds.size()), alarms(sens * k_controls.size() * sizes),
        features_20(sens * kinds().size()), alarm_features(sens * k_controls.size()) {}

  std::uint64_t& det(std::size_t s, std::size_t k, std::size_t share, std::size_t rate,
                     std::size_t size) {
    return detected[(((s * kinds().size() + k) * k_shares.size() + share) * k_rates.size() + rate) *
                        n_sizes +
                    size];
  }
  std::uint64_t& alarm(std::size_t s, std::size_t control, std::size_t size) {
    return alarms[(s * k_controls.size() + control) * n_sizes + size];
  }

  void add(const Tally& o) {
    for (std::size_t i = 0; i < detected.size(); ++i) {
      detected[i] += o.detected[i];
    }
    for (std::size_t i = 0; i < targets.size(); ++i) {
      targets[i] += o.targets[i];
    }
    for (std::size_t i = 0; i < alarms.size(); ++i) {
      alarms[i] += o.alarms[i];
    }
    for (std::size_t i = 0; i < features_20.size(); ++i) {
      for (const auto& [f, c] : o.features_20[i]) {
        features_20[i][f] += c;
      }
    }
    for (std::size_t i = 0; i < alarm_features.size(); ++i) {
      for (const auto& [f, c] : o.alarm_features[i]) {
        alarm_features[i][f] += c;
      }
    }
    fingerprint_seconds += o.fingerprint_seconds;
    detect_seconds += o.detect_seconds;
    fingerprints += o.fingerprints;
    detect_calls += o.detect_calls;
  }
};

// Runs one suite through every sensitivity asked for, counting the calls and their time.
class Runner {
public:
  Runner(const Config& config, Tally& tally) : m_tally(tally) {
    for (const auto s : config.sensitivities) {
      m_options.push_back(golden::DriftOptions::for_sensitivity(s));
    }
  }
  std::vector<golden::Fingerprint> prints(const std::vector<std::string>& outputs) {
    const auto start = Clock::now();
    std::vector<golden::Fingerprint> out;
    out.reserve(outputs.size());
    for (const std::string& o : outputs) {
      out.push_back(golden::fingerprint(o));
    }
    m_tally.fingerprint_seconds += seconds_since(start);
    m_tally.fingerprints += outputs.size();
    return out;
  }
  std::vector<golden::DriftFinding> detect(const std::vector<golden::DriftCase>& cases,
                                           std::size_t sens) {
    const auto start = Clock::now();
    auto findings = golden::detect_drift(cases, m_options[sens]);
    m_tally.detect_seconds += seconds_since(start);
    ++m_tally.detect_calls;
    return findings;
  }
  std::size_t sensitivities() const { return m_options.size(); }

private:
  Tally& m_tally;
  std::vector<golden::DriftOptions> m_options;
};

// One suite of `n` cases of `family` (or of two families, 70/30, for the controls): the
// specs, and two samples of each case.
struct Suite {
  SuiteStyle style;
  std::vector<CaseSpec> specs;
  std::vector<Sample> first;
  std::vector<Sample> second;
};

Suite draw_suite(std::size_t n, std::optional<Family> family, Rng& rng) {
  Suite suite;
  suite.style = draw_style(rng);
  Family major = family.value_or(rng.pick(k_families));
  Family minor = major;
  while (!family && minor == major) {
    minor = rng.pick(k_families);
  }
  const std::vector<bool> in_minor = choose(n, family ? 0 : share_of(0.3, n), rng);
  for (std::size_t i = 0; i < n; ++i) {
    suite.specs.push_back(draw_case(in_minor[i] ? minor : major, rng));
  }
  for (const CaseSpec& spec : suite.specs) {
    suite.first.push_back(draw_sample(spec, suite.style, rng));
  }
  for (const CaseSpec& spec : suite.specs) {
    suite.second.push_back(draw_sample(spec, suite.style, rng));
  }
  return suite;
}

bool caught(const std::vector<golden::DriftFinding>& findings, const KindInfo& kind) {
  return std::any_of(findings.begin(), findings.end(), [&](const golden::DriftFinding& f) {
    return std::find(kind.features.begin(), kind.features.end(), f.feature) != kind.features.end();
  });
}

// Detection of kind `k` in suites of `sizes[size]` cases: one draw, every share and rate.
void detection_draw(const Config& config, std::size_t k, std::size_t size, std::size_t draw,
                    Tally& tally) {
  const KindInfo& kind = kinds()[k];
  const std::size_t n = config.sizes[size];
  Rng rng(seed_of({config.seed, 1, k, n, draw}));
  Suite suite = draw_suite(n, kind.family, rng);
  // Fences appear on bare code; their language changes on fenced code.
  suite.style.python_fenced = kind.kind == Kind::fence_lang;
  const std::vector<bool> already = choose(n, share_of(0.1, n), rng);
  std::vector<std::string> outputs;
  for (std::size_t i = 0; i < n; ++i) {
    outputs.push_back(render(suite.specs[i], suite.style, suite.first[i], std::nullopt));
  }
  for (std::size_t i = 0; i < n; ++i) {
    outputs.push_back(render(suite.specs[i], suite.style, suite.second[i], std::nullopt));
  }
  for (std::size_t i = 0; i < n; ++i) {
    outputs.push_back(render(suite.specs[i], suite.style, suite.second[i], kind.kind));
  }
  // The baseline's outputs already in the new form (for the 10% rate), at 3n + where_new[i].
  std::vector<std::size_t> where_new(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (already[i]) {
      where_new[i] = outputs.size() - 3 * n;
      outputs.push_back(render(suite.specs[i], suite.style, suite.first[i], kind.kind));
    }
  }
  Runner runner(config, tally);
  const std::vector<golden::Fingerprint> fps = runner.prints(outputs);
  const auto base_before = [&](std::size_t i) { return &fps[i]; };
  const auto base_after = [&](std::size_t i) { return &fps[n + i]; };
  const auto new_after = [&](std::size_t i) { return &fps[2 * n + i]; };
  const auto new_before = [&](std::size_t i) { return &fps[3 * n + where_new[i]]; };
  for (std::size_t share = 0; share < k_shares.size(); ++share) {
    for (std::size_t rate = 0; rate < k_rates.size(); ++rate) {
      std::vector<bool> rolled = choose(n, share_of(k_shares[share], n), rng);
      if (rate == 1 && config.among_old) {
        std::vector<std::size_t> old;
        for (std::size_t i = 0; i < n; ++i) {
          if (!already[i]) {
            old.push_back(i);
          }
        }
        const std::vector<bool> picked =
            choose(old.size(), std::min(old.size(), share_of(k_shares[share], n)), rng);
        rolled.assign(n, false);
        for (std::size_t j = 0; j < old.size(); ++j) {
          rolled[old[j]] = picked[j];
        }
      }
      std::vector<golden::DriftCase> cases(n);
      for (std::size_t i = 0; i < n; ++i) {
        const bool old_new = rate == 1 && already[i];
        cases[i].baseline = old_new ? new_before(i) : base_before(i);
        cases[i].run = old_new || rolled[i] ? new_after(i) : base_after(i);
      }
      for (std::size_t s = 0; s < runner.sensitivities(); ++s) {
        const auto findings = runner.detect(cases, s);
        if (caught(findings, kind)) {
          ++tally.det(s, k, share, rate, size);
        }
        if (share == k_share_20) {
          std::vector<std::string> seen;
          for (const auto& f : findings) {
            if (std::find(seen.begin(), seen.end(), f.feature) == seen.end()) {
              seen.push_back(f.feature);
              ++tally.features_20[s * kinds().size() + k][f.feature];
            }
          }
        }
      }
    }
  }
}

// The 12-case target: 10 of 12 outputs in the new form, from a zero baseline rate.
void target_draw(const Config& config, std::size_t t, std::size_t draw, Tally& tally) {
  const Kind kind = k_target_kinds[t];
  const auto it = std::find_if(kinds().begin(), kinds().end(),
                               [&](const KindInfo& info) { return info.kind == kind; });
  constexpr std::size_t n = 12;
  Rng rng(seed_of({config.seed, 2, t, draw}));
  const Suite suite = draw_suite(n, it->family, rng);
  const std::vector<bool> rolled = choose(n, 10, rng);
  std::vector<std::string> outputs;
  for (std::size_t i = 0; i < n; ++i) {
    outputs.push_back(render(suite.specs[i], suite.style, suite.first[i], std::nullopt));
  }
  for (std::size_t i = 0; i < n; ++i) {
    outputs.push_back(render(suite.specs[i], suite.style, suite.second[i],
                             rolled[i] ? std::optional<Kind>(kind) : std::nullopt));
  }
  Runner runner(config, tally);
  const std::vector<golden::Fingerprint> fps = runner.prints(outputs);
  std::vector<golden::DriftCase> cases(n);
  for (std::size_t i = 0; i < n; ++i) {
    cases[i] = {&fps[i], &fps[n + i]};
  }
  for (std::size_t s = 0; s < runner.sensitivities(); ++s) {
    if (caught(runner.detect(cases, s), *it)) {
      ++tally.targets[s * k_target_kinds.size() + t];
    }
  }
}

// The three controls on one mixed suite of `sizes[size]` cases.
void control_draw(const Config& config, std::size_t size, std::size_t draw, Tally& tally) {
  const std::size_t n = config.sizes[size];
  Rng rng(seed_of({config.seed, 3, n, draw}));
  const Suite suite = draw_suite(n, std::nullopt, rng);
  std::vector<std::string> outputs;
  for (std::size_t i = 0; i < n; ++i) {
    outputs.push_back(render(suite.specs[i], suite.style, suite.first[i], std::nullopt));
  }
  for (std::size_t i = 0; i < n; ++i) {
    outputs.push_back(render(suite.specs[i], suite.style, suite.second[i], std::nullopt));
  }
  Runner runner(config, tally);
  const std::vector<golden::Fingerprint> fps = runner.prints(outputs);
  std::vector<std::size_t> permutation(n);
  for (std::size_t i = 0; i < n; ++i) {
    permutation[i] = i;
  }
  for (std::size_t i = n; i > 1; --i) {
    std::swap(permutation[i - 1], permutation[rng.below(i)]);
  }
  for (std::size_t control = 0; control < k_controls.size(); ++control) {
    std::vector<golden::DriftCase> cases(n);
    for (std::size_t i = 0; i < n; ++i) {
      const golden::Fingerprint* run = control == 0   ? &fps[i]
                                       : control == 1 ? &fps[permutation[i]]
                                                      : &fps[n + i];
      cases[i] = {&fps[i], run};
    }
    for (std::size_t s = 0; s < runner.sensitivities(); ++s) {
      const auto findings = runner.detect(cases, s);
      if (!findings.empty()) {
        ++tally.alarm(s, control, size);
        for (const auto& f : findings) {
          ++tally.alarm_features[s * k_controls.size() + control][f.feature];
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Running the work on threads.

struct Item {
  int type; // 0 detection, 1 target, 2 control
  std::size_t a;
  std::size_t b;
  std::size_t draw;
  std::size_t cost; // outputs it holds, to start the big ones first
};

Tally run_all(const Config& config) {
  std::vector<Item> items;
  for (std::size_t size = 0; size < config.sizes.size(); ++size) {
    const std::size_t n = config.sizes[size];
    for (std::size_t k = 0; k < kinds().size(); ++k) {
      for (std::size_t d = 0; d < config.draws; ++d) {
        items.push_back({0, k, size, d, n * 10});
      }
    }
    for (std::size_t d = 0; d < config.control_draws; ++d) {
      items.push_back({2, size, 0, d, n * 3});
    }
  }
  for (std::size_t t = 0; t < k_target_kinds.size(); ++t) {
    for (std::size_t d = 0; d < config.control_draws; ++d) {
      items.push_back({1, t, 0, d, 12});
    }
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& x, const Item& y) { return x.cost > y.cost; });
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  const std::size_t n_sens = config.sensitivities.size();
  std::vector<Tally> tallies(config.threads, Tally(n_sens, config.sizes.size()));
  const auto work = [&](Tally& tally) {
    for (std::size_t i = next++; i < items.size(); i = next++) {
      const Item& item = items[i];
      if (item.type == 0) {
        detection_draw(config, item.a, item.b, item.draw, tally);
      } else if (item.type == 1) {
        target_draw(config, item.a, item.draw, tally);
      } else {
        control_draw(config, item.a, item.draw, tally);
      }
      const std::size_t finished = ++done;
      if (finished % (items.size() / 20 + 1) == 0) {
        std::fprintf(stderr, "drift_calibration: %zu of %zu suites\n", finished, items.size());
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < config.threads; ++t) {
    threads.emplace_back(work, std::ref(tallies[t]));
  }
  work(tallies[0]);
  for (auto& t : threads) {
    t.join();
  }
  Tally total(n_sens, config.sizes.size());
  for (const Tally& t : tallies) {
    total.add(t);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Printing.

std::string thousands(std::size_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) {
    s.insert(static_cast<std::size_t>(i), ",");
  }
  return s;
}

std::string percent(std::uint64_t hits, std::uint64_t of, int decimals) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f%%", decimals,
                of == 0 ? 0.0 : 100.0 * static_cast<double>(hits) / static_cast<double>(of));
  return buffer;
}

std::string pct(double share) {
  return std::to_string(static_cast<int>(std::lround(share * 100))) + "%";
}

void print_header_sizes(const Config& config, std::string_view first) {
  std::printf("%.*s", static_cast<int>(first.size()), first.data());
  for (const std::size_t n : config.sizes) {
    std::printf(" %s |", thousands(n).c_str());
  }
  std::printf("\n");
  const auto columns = static_cast<std::size_t>(std::count(first.begin(), first.end(), '|') - 1);
  for (std::size_t i = 0; i < columns; ++i) {
    std::printf("|---");
  }
  for (std::size_t i = 0; i < config.sizes.size(); ++i) {
    std::printf("|--:");
  }
  std::printf("|\n");
}

void print_detection(const Config& config, Tally& tally, std::size_t s) {
  const double draws = static_cast<double>(config.draws);
  std::printf("### Detection: the weakest kind per cell\n\n");
  std::printf("Share of %zu draws per kind in which a finding named the changed feature; each "
              "cell is the lowest of the %zu kinds, and which.\n\n",
              config.draws, kinds().size());
  print_header_sizes(config, "| rollout | baseline rate |");
  for (std::size_t share = 0; share < k_shares.size(); ++share) {
    for (std::size_t rate = 0; rate < k_rates.size(); ++rate) {
      std::printf("| %s | %s |", pct(k_shares[share]).c_str(), pct(k_rates[rate]).c_str());
      for (std::size_t size = 0; size < config.sizes.size(); ++size) {
        std::size_t worst = 0;
        for (std::size_t k = 1; k < kinds().size(); ++k) {
          if (tally.det(s, k, share, rate, size) < tally.det(s, worst, share, rate, size)) {
            worst = k;
          }
        }
        std::printf(" %s %s |",
                    percent(tally.det(s, worst, share, rate, size), config.draws, 0).c_str(),
                    std::string(kinds()[worst].name).c_str());
      }
      std::printf("\n");
    }
  }

  std::printf("\n### Detection of 20%% rollouts, by kind\n\n");
  std::printf("Percent of %zu draws caught, from a 0%% / a 10%% baseline rate; and the features "
              "reported in those 20%% cells (percent of all their draws).\n\n",
              config.draws);
  print_header_sizes(config, "| kind | change |");
  for (std::size_t k = 0; k < kinds().size(); ++k) {
    const KindInfo& kind = kinds()[k];
    std::printf("| %s | %s |", std::string(kind.name).c_str(), std::string(kind.what).c_str());
    for (std::size_t size = 0; size < config.sizes.size(); ++size) {
      std::printf(" %.0f / %.0f |", 100.0 * tally.det(s, k, k_share_20, 0, size) / draws,
                  100.0 * tally.det(s, k, k_share_20, 1, size) / draws);
    }
    std::printf("\n");
  }
  std::printf("\nFeatures reported in the 20%% cells:\n\n");
  const double cells = draws * static_cast<double>(config.sizes.size() * k_rates.size());
  for (std::size_t k = 0; k < kinds().size(); ++k) {
    std::vector<std::pair<std::uint64_t, std::string>> found;
    for (const auto& [f, c] : tally.features_20[s * kinds().size() + k]) {
      found.emplace_back(c, f);
    }
    std::sort(found.rbegin(), found.rend());
    std::printf("- %s:", std::string(kinds()[k].name).c_str());
    for (std::size_t i = 0; i < found.size() && i < 5; ++i) {
      std::printf("%s %s %.0f%%", i == 0 ? "" : ",", found[i].second.c_str(),
                  100.0 * static_cast<double>(found[i].first) / cells);
    }
    std::printf("%s\n", found.empty() ? " none" : "");
  }

  if (config.full) {
    for (std::size_t k = 0; k < kinds().size(); ++k) {
      std::printf("\n#### %s: %s (percent caught, from 0%% / 10%%)\n\n",
                  std::string(kinds()[k].name).c_str(), std::string(kinds()[k].what).c_str());
      print_header_sizes(config, "| rollout |");
      for (std::size_t share = 0; share < k_shares.size(); ++share) {
        std::printf("| %s |", pct(k_shares[share]).c_str());
        for (std::size_t size = 0; size < config.sizes.size(); ++size) {
          std::printf(" %.0f / %.0f |", 100.0 * tally.det(s, k, share, 0, size) / draws,
                      100.0 * tally.det(s, k, share, 1, size) / draws);
        }
        std::printf("\n");
      }
    }
  }
}

void print_target_table(const Config& config, const Tally& tally, std::size_t s) {
  std::printf("\n### The 12-case target: 10 of 12 outputs changed\n\n");
  std::printf("| change | caught |\n|---|--:|\n");
  for (std::size_t t = 0; t < k_target_kinds.size(); ++t) {
    const std::uint64_t hits = tally.targets[s * k_target_kinds.size() + t];
    std::printf("| %s | %s (%s of %s) |\n", std::string(k_target_names[t]).c_str(),
                percent(hits, config.control_draws, 1).c_str(), thousands(hits).c_str(),
                thousands(config.control_draws).c_str());
  }
}

void print_false_alarms(const Config& config, Tally& tally, std::size_t s) {
  std::printf("\n### False alarms: any finding, on suites that mix two families (70%% / 30%%)\n\n");
  std::printf("| suite size |");
  for (const auto c : k_controls) {
    std::printf(" %s |", std::string(c).c_str());
  }
  std::printf("\n|--:|--:|--:|--:|\n");
  for (std::size_t size = 0; size < config.sizes.size(); ++size) {
    std::printf("| %s |", thousands(config.sizes[size]).c_str());
    for (std::size_t c = 0; c < k_controls.size(); ++c) {
      const std::uint64_t hits = tally.alarm(s, c, size);
      std::printf(" %s (%s of %s) |", percent(hits, config.control_draws, 2).c_str(),
                  thousands(hits).c_str(), thousands(config.control_draws).c_str());
    }
    std::printf("\n");
  }
  std::printf("\nFeatures behind the false alarms:");
  bool any = false;
  for (std::size_t c = 0; c < k_controls.size(); ++c) {
    for (const auto& [f, count] : tally.alarm_features[s * k_controls.size() + c]) {
      std::printf("%s %s: %s %s", any ? ";" : "", std::string(k_controls[c]).c_str(), f.c_str(),
                  thousands(count).c_str());
      any = true;
    }
  }
  std::printf("%s\n\n", any ? "" : " none");
}

void print_sensitivity(const Config& config, Tally& tally, std::size_t s) {
  std::printf("## Sensitivity `%s`\n\n",
              std::string(golden::to_string(config.sensitivities[s])).c_str());
  print_detection(config, tally, s);
  print_target_table(config, tally, s);
  print_false_alarms(config, tally, s);
}

void print_targets(const Config& config, Tally& tally) {
  const auto at = std::find(config.sensitivities.begin(), config.sensitivities.end(),
                            golden::DriftSensitivity::standard);
  if (at == config.sensitivities.end()) {
    std::printf("## Targets\n\nNot checked: the targets are for the default sensitivity.\n");
    return;
  }
  const auto s = static_cast<std::size_t>(at - config.sensitivities.begin());
  std::printf("## Targets (issue 15, at the default sensitivity)\n\n");
  const auto line = [](bool met, const std::string& what) {
    std::printf("- %s: %s\n", met ? "MET" : "MISSED", what.c_str());
  };
  for (const std::size_t n : {std::size_t{50}, std::size_t{1000}}) {
    const auto it = std::find(config.sizes.begin(), config.sizes.end(), n);
    if (it == config.sizes.end()) {
      std::printf("- NOT RUN: 20%% rollouts on %s cases (not among --sizes)\n",
                  thousands(n).c_str());
      continue;
    }
    const auto size = static_cast<std::size_t>(it - config.sizes.begin());
    for (std::size_t rate = 0; rate < k_rates.size(); ++rate) {
      std::size_t worst = 0;
      std::vector<std::string> below;
      for (std::size_t k = 0; k < kinds().size(); ++k) {
        const std::uint64_t hits = tally.det(s, k, k_share_20, rate, size);
        if (hits < tally.det(s, worst, k_share_20, rate, size)) {
          worst = k;
        }
        if (hits * 100 < config.draws * 95) {
          below.push_back(std::string(kinds()[k].name) + " " + percent(hits, config.draws, 1));
        }
      }
      std::string what = ">= 95% of 20% rollouts caught on " + thousands(n) + " cases from a " +
                         pct(k_rates[rate]) +
                         " baseline rate, every kind: "
                         "lowest " +
                         percent(tally.det(s, worst, k_share_20, rate, size), config.draws, 1) +
                         " (" + std::string(kinds()[worst].name) + ")";
      if (!below.empty()) {
        what += "; below 95%:";
        for (const auto& b : below) {
          what += " " + b + ",";
        }
        what.pop_back();
      }
      line(below.empty(), what);
    }
  }
  for (std::size_t t = 0; t < k_target_kinds.size(); ++t) {
    const std::uint64_t hits = tally.targets[s * k_target_kinds.size() + t];
    line(hits * 100 >= config.control_draws * 95,
         ">= 95% of 10-of-12 changes on 12 cases (" + std::string(k_target_names[t]) +
             "): " + percent(hits, config.control_draws, 1));
  }
  for (std::size_t c = 0; c < k_controls.size(); ++c) {
    std::uint64_t worst = 0;
    std::size_t worst_size = 0;
    for (std::size_t size = 0; size < config.sizes.size(); ++size) {
      if (tally.alarm(s, c, size) >= worst) {
        worst = tally.alarm(s, c, size);
        worst_size = size;
      }
    }
    line(worst * 100 <= config.control_draws, "<= 1% false alarms at every size (" +
                                                  std::string(k_controls[c]) + "): highest " +
                                                  percent(worst, config.control_draws, 2) + " at " +
                                                  thousands(config.sizes[worst_size]) + " cases");
  }
}

// One case of each drift kind, before and after, as the detection cells generate them.
void print_examples(const Config& config) {
  for (std::size_t k = 0; k < kinds().size(); ++k) {
    const KindInfo& kind = kinds()[k];
    Rng rng(seed_of({config.seed, 4, k}));
    Suite suite = draw_suite(1, kind.family, rng);
    suite.style.python_fenced = kind.kind == Kind::fence_lang;
    std::printf("## %s: %s\n\nbaseline:\n```\n%s\n```\nrun:\n```\n%s\n```\n\n",
                std::string(kind.name).c_str(), std::string(kind.what).c_str(),
                render(suite.specs[0], suite.style, suite.first[0], std::nullopt).c_str(),
                render(suite.specs[0], suite.style, suite.second[0], kind.kind).c_str());
  }
}

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr,
               "drift_calibration: %s\nusage: drift_calibration [--sensitivity "
               "low|default|high|all] [--draws N] [--control-draws N] [--sizes 8,12,...] "
               "[--threads T] [--seed S] [--rollout-among all|old] [--full] [--examples]\n",
               problem);
  std::exit(2);
}

std::size_t positive(const char* text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v == 0) {
    usage("expected a positive number");
  }
  return static_cast<std::size_t>(v);
}

Config parse(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--full" || arg == "--examples") {
      (arg == "--full" ? config.full : config.examples) = true;
      continue;
    }
    if (i + 1 >= argc) {
      usage(("unknown option or missing value: " + std::string(arg)).c_str());
    }
    const char* value = argv[++i];
    if (arg == "--sensitivity") {
      config.sensitivity_name = value;
      if (config.sensitivity_name == "all") {
        config.sensitivities = {golden::DriftSensitivity::low, golden::DriftSensitivity::standard,
                                golden::DriftSensitivity::high};
      } else if (const auto s = golden::parse_drift_sensitivity(value)) {
        config.sensitivities = {*s};
      } else {
        usage("--sensitivity takes low, default, high or all");
      }
    } else if (arg == "--rollout-among") {
      if (std::string_view(value) != "all" && std::string_view(value) != "old") {
        usage("--rollout-among takes all or old");
      }
      config.among_old = std::string_view(value) == "old";
    } else if (arg == "--draws") {
      config.draws = positive(value);
    } else if (arg == "--control-draws") {
      config.control_draws = positive(value);
    } else if (arg == "--threads") {
      config.threads = static_cast<unsigned>(positive(value));
    } else if (arg == "--seed") {
      config.seed = positive(value);
    } else if (arg == "--sizes") {
      config.sizes.clear();
      std::string list = value;
      for (std::size_t pos = 0; pos <= list.size();) {
        std::size_t comma = list.find(',', pos);
        comma = comma == std::string::npos ? list.size() : comma;
        config.sizes.push_back(positive(list.substr(pos, comma - pos).c_str()));
        pos = comma + 1;
      }
    } else {
      usage(("unknown option: " + std::string(arg)).c_str());
    }
  }
  return config;
}

} // namespace

int main(int argc, char** argv) {
  const Config config = parse(argc, argv);
  if (config.examples) {
    print_examples(config);
    return 0;
  }
  const auto start = Clock::now();
  Tally tally = run_all(config);
  const double wall = seconds_since(start);

  std::string sizes;
  for (const std::size_t n : config.sizes) {
    sizes += (sizes.empty() ? "" : ",") + std::to_string(n);
  }
  std::printf("# Drift calibration\n\n");
  std::printf("```\ndrift_calibration --sensitivity %s --draws %zu --control-draws %zu --sizes %s "
              "--threads %u --seed %llu --rollout-among %s%s\n```\n\n",
              config.sensitivity_name.c_str(), config.draws, config.control_draws, sizes.c_str(),
              config.threads, static_cast<unsigned long long>(config.seed),
              config.among_old ? "old" : "all", config.full ? " --full" : "");
  std::printf("%zu drift kinds x %zu rollout shares x 2 baseline rates x %zu sizes, %zu draws "
              "each; 12-case targets and controls %zu draws each.\n\n",
              kinds().size(), k_shares.size(), config.sizes.size(), config.draws,
              config.control_draws);
  for (std::size_t s = 0; s < config.sensitivities.size(); ++s) {
    print_sensitivity(config, tally, s);
  }
  print_targets(config, tally);
  std::printf("\nWall time %.1f s on %u threads: %s fingerprints (%.1f s of CPU), %s "
              "detect_drift calls (%.1f s of CPU).\n",
              wall, config.threads, thousands(tally.fingerprints).c_str(),
              tally.fingerprint_seconds, thousands(tally.detect_calls).c_str(),
              tally.detect_seconds);
  return 0; // a measurement: the numbers are the result, met or not
}
