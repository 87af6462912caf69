// Baselines, fingerprints, drift and the reports at scale (the issue "benchmarks", target:
// "fingerprinting, drift and the diff report on a 100,000-case run against its baseline: under
// 2 s, and the HTML page under 5 MB for 10,000 cases"): whole process, wall time, CPU time and
// peak memory, medians over interleaved runs.
//
//   baseline_scale PROMPTOPS_BINARY [--cases 100000] [--runs 3] [--keep DIR]
//
// Generates a registry in a temporary folder (or DIR with --keep, which is left in place),
// offline: a `replay` provider `model` answering from replays/now.jsonl, a prompt `extract`
// with an output schema, a suite `orders` of N cases whose outputs are order objects of about
// 300 bytes (5 to 8 keys, a nested object and an array of objects), scored by `json_schema`
// (extract: true) and `exact_match` at /order_id (extract: true), with the gate
// {min_pass_rate: 1.0, max_regressions: 0, fail_on_drift: true}; the baseline
// golden/baselines/orders/model.jsonl (id, output, status, model: no stored fingerprint, so
// every run computes the baseline's too), and two replay files:
//   replays/same-form.jsonl  other values (quantities, prices, names, item counts), same form:
//                            no drift expected
//   replays/drifted.jsonl    the baseline's JSON, 85% of it after "Sure! Here is the order:" in
//                            a ```json fence, from another model id: drift expected
// replays/now.jsonl is a hard link to one of them.
//
// Each round, interleaved, RUNS rounds:
//   1  `promptops test orders`, no baseline (moved aside), same-form replay   exit 0, no drift
//   1b the same with the drifted replay                                       exit 0, no drift
//   2  with the baseline, same-form replay       exit 0; N compared, no regression, no drift
//   3  with the baseline, drifted replay         exit 1; drift found (code_fence), gate failed
//   4  `promptops report RUN --markdown F --junit F` (and --html F when the binary has it) on
//      run 3                                     exit 1 (the run's verdict); the files' sizes
//   4b `promptops report RUN --html F` on run 3: the diff report alone
// It also times promptops::golden::fingerprint on the drifted outputs in its own process.
// Every run is checked (exit code, summary.json); anything else stops the bench with exit 1.
// The costs are medians of the per-round differences 2-1, 3-1 and 3-1b.
#include "golden/fingerprint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "bench/support/bench_support.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

fs::path g_dir; // the bench's folder, kept when a run fails

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "baseline_scale: FAILED: %s\n", message.c_str());
  if (!g_dir.empty()) {
    std::fprintf(stderr, "baseline_scale: the registry is kept in %s\n", g_dir.c_str());
  }
  std::exit(1);
}

namespace bench = promptops::bench;
using bench::load_average;
using bench::read_file;

void write_file(const fs::path& path, const std::string& text) {
  try {
    bench::write_file(path, text);
  } catch (const bench::BenchError& e) {
    fail(e.what());
  }
}

struct Options {
  std::string promptops;
  int cases = 100000;
  int runs = 3;
  std::string keep;
};

// One finished run of promptops.
using Run = bench::Spawned;

// Runs `args` in `cwd` with `env`, stdout and stderr into files of `scratch`; fails unless it
// exits with `expected_exit`.
Run run_promptops(const std::vector<std::string>& args, const fs::path& cwd,
                  const std::vector<std::string>& env, const fs::path& scratch, int expected_exit) {
  try {
    return bench::spawn_expecting(args, cwd, env, scratch, expected_exit);
  } catch (const bench::BenchError& e) {
    fail(e.what());
  }
}

// ---- The generated data ---------------------------------------------------------------------

// A small deterministic generator (splitmix64), so every run of the bench writes the same files.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
};

const char* const k_first[] = {"Ada",  "Grace",   "Alan", "Edsger",   "Barbara", "Donald",
                               "John", "Frances", "Ken",  "Margaret", "Niklaus", "Radia"};
const char* const k_last[] = {"Lovelace", "Hopper", "Turing",   "Dijkstra", "Liskov", "Knuth",
                              "Backus",   "Allen",  "Thompson", "Hamilton", "Wirth",  "Perlman"};
const char* const k_tiers[] = {"basic", "silver", "gold"};
const char* const k_currencies[] = {"EUR", "USD", "GBP"};
const char* const k_notes[] = {"Leave the parcel at the door", "Call before delivery, please",
                               "Fragile: glass inside",        "Office hours only, 9 to 5",
                               "Second floor, ring twice",     "Deliver to the reception desk"};
const char* const k_windows[] = {"morning", "afternoon", "evening"};

std::string order_id(int i) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "ORD-%07d", i);
  return buffer;
}

std::string case_id(int i) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "order-%06d", i);
  return buffer;
}

// The order of case `i` as one line of compact JSON (about 300 bytes). Which keys it has depends
// on `i` only, so the form is the same in every variant; the values depend on `variant` (0 the
// baseline's, 1 the same-form replay's).
std::string order_json(int i, int variant) {
  Random r{static_cast<std::uint64_t>(i) * 2 + static_cast<std::uint64_t>(variant) + 12345};
  const std::string first = k_first[r.below(12)];
  const std::string last = k_last[r.below(12)];
  std::string email = first + "." + last + std::to_string(r.below(1000)) + "@example.com";
  std::transform(email.begin(), email.end(), email.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string text = std::string(R"({"order_id": ")") + order_id(i) +
                     R"(", "customer": {"name": ")" + first + " " + last + R"(", "email": ")" +
                     email + R"(", "tier": ")" + k_tiers[r.below(3)] + R"("}, "items": [)";
  const int items = 1 + r.below(3);
  long cents = 0;
  for (int k = 0; k < items; ++k) {
    const int quantity = 1 + r.below(5);
    const int price = 100 + r.below(9900);
    cents += static_cast<long>(quantity) * price;
    char item[128];
    std::snprintf(item, sizeof item,
                  R"(%s{"sku": "%c%c%c-%03d", "quantity": %d, "unit_price": %d.%02d})",
                  k == 0 ? "" : ", ", 'A' + r.below(26), 'A' + r.below(26), 'A' + r.below(26),
                  r.below(1000), quantity, price / 100, price % 100);
    text += item;
  }
  char total[64];
  std::snprintf(total, sizeof total, R"(], "currency": "%s", "total": %ld.%02ld)",
                k_currencies[r.below(3)], cents / 100, cents % 100);
  text += total;
  if (i % 3 == 0) {
    text += std::string(R"(, "gift_wrap": )") + (r.below(2) == 0 ? "true" : "false");
  }
  if (i % 2 == 0) {
    text += std::string(R"(, "notes": ")") + k_notes[r.below(6)] + "\"";
  }
  if (i % 5 < 2) {
    char delivery[96];
    std::snprintf(delivery, sizeof delivery,
                  R"(, "delivery": {"date": "2026-%02d-%02d", "window": "%s"})", 1 + r.below(12),
                  1 + r.below(28), k_windows[r.below(3)]);
    text += delivery;
  }
  text += "}";
  return text;
}

// A JSON string literal of `text` (which holds no control characters).
std::string json_string(const std::string& text) {
  return json(text).dump();
}

struct Generated {
  double mean_output_bytes = 0;
  double mean_drifted_bytes = 0;
  int wrapped = 0; // drifted outputs with the preamble and the fence
  // promptops::golden::fingerprint over the drifted outputs, in this process on one core:
  // the median of 3 rounds, in seconds.
  double fingerprint_s = 0;
};

Generated generate(const fs::path& registry, const Options& o) {
  write_file(registry / "promptops.yaml", "version: 1\n"
                                          "providers:\n"
                                          "  model:\n"
                                          "    type: replay\n"
                                          "    from: replays/now.jsonl\n"
                                          "gate:\n"
                                          "  min_pass_rate: 1.0\n");
  write_file(registry / "prompts/extract.yaml",
             "description: Extract the order from a customer's message, as JSON\n"
             "provider: model\n"
             "messages:\n"
             "  - role: system\n"
             "    content: Extract the order. Answer with one JSON object and nothing else.\n"
             "  - role: user\n"
             "    content: \"{{message}}\"\n"
             "input:\n"
             "  required: [message]\n"
             "output_schema: schemas/order.json\n");
  write_file(registry / "schemas/order.json", R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["order_id", "customer", "items", "currency", "total"],
  "additionalProperties": false,
  "properties": {
    "order_id": {"type": "string", "pattern": "^ORD-[0-9]{7}$"},
    "customer": {
      "type": "object",
      "required": ["name", "email"],
      "properties": {
        "name": {"type": "string", "minLength": 1},
        "email": {"type": "string", "pattern": "^[^@]+@[^@]+$"},
        "tier": {"enum": ["basic", "silver", "gold"]}
      }
    },
    "items": {
      "type": "array",
      "minItems": 1,
      "items": {
        "type": "object",
        "required": ["sku", "quantity", "unit_price"],
        "additionalProperties": false,
        "properties": {
          "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
          "quantity": {"type": "integer", "minimum": 1},
          "unit_price": {"type": "number", "minimum": 0}
        }
      }
    },
    "currency": {"enum": ["EUR", "USD", "GBP"]},
    "total": {"type": "number", "minimum": 0},
    "gift_wrap": {"type": "boolean"},
    "notes": {"type": "string", "maxLength": 200},
    "delivery": {
      "type": "object",
      "properties": {"date": {"type": "string"}, "window": {"type": "string"}}
    }
  }
}
)");
  write_file(registry / "golden/orders.yaml",
             "description: Orders come out as JSON our parser takes\n"
             "prompt: extract\n"
             "providers: [model]\n"
             "cases: orders.jsonl\n"
             "evaluators:\n"
             "  - {type: json_schema, extract: true}\n"
             "  - {type: exact_match, path: /order_id, extract: true}\n"
             "gate: {min_pass_rate: 1.0, max_regressions: 0, fail_on_drift: true}\n");

  Generated g;
  std::string cases;
  std::string baseline;
  std::string same_form;
  std::string drifted;
  double bytes = 0;
  double drifted_bytes = 0;
  std::vector<std::string> drifted_outputs;
  for (int i = 0; i < o.cases; ++i) {
    const std::string id = json_string(case_id(i));
    const std::string before = order_json(i, 0);
    const std::string after = order_json(i, 1);
    const json parsed = json::parse(before);
    std::string message = std::string("Order ") + order_id(i) + " for " +
                          parsed["customer"]["name"].get<std::string>() + ":";
    for (const auto& item : parsed["items"]) {
      message += std::string(" ") + std::to_string(item["quantity"].get<int>()) + " x " +
                 item["sku"].get<std::string>();
    }
    cases += std::string(R"({"id": )") + id + R"(, "vars": {"message": )" + json_string(message) +
             R"(}, "expected": {"order_id": ")" + order_id(i) + "\"}}\n";
    baseline += std::string(R"({"id": )") + id + R"(, "output": )" + json_string(before) +
                R"(, "status": "pass", "model": "acme-large-2025-01"})" + "\n";
    same_form += std::string(R"({"id": )") + id + R"(, "model": "acme-large-2025-01", "output": )" +
                 json_string(after) + "}\n";
    std::string wrapped = before;
    if (i % 20 < 17) {
      wrapped = std::string("Sure! Here is the order:\n```json\n") + before + "\n```";
      ++g.wrapped;
    }
    drifted += std::string(R"({"id": )") + id + R"(, "model": "acme-large-2025-03", "output": )" +
               json_string(wrapped) + "}\n";
    bytes += static_cast<double>(before.size() + after.size()) / 2;
    drifted_bytes += static_cast<double>(wrapped.size());
    drifted_outputs.push_back(std::move(wrapped));
  }
  write_file(registry / "golden/orders.jsonl", cases);
  write_file(registry / "golden/baselines/orders/model.jsonl", baseline);
  write_file(registry / "replays/same-form.jsonl", same_form);
  write_file(registry / "replays/drifted.jsonl", drifted);
  g.mean_output_bytes = bytes / o.cases;
  g.mean_drifted_bytes = drifted_bytes / o.cases;
  std::vector<double> rounds;
  for (int r = 0; r < 3; ++r) {
    const auto start = std::chrono::steady_clock::now();
    std::size_t features = 0;
    for (const std::string& output : drifted_outputs) {
      features += promptops::golden::fingerprint(output).categorical.size();
    }
    rounds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (features == 0) {
      fail("no fingerprint features");
    }
  }
  std::sort(rounds.begin(), rounds.end());
  g.fingerprint_s = rounds[1];
  return g;
}

// ---- Checks ---------------------------------------------------------------------------------

// The one run folder under .promptops/runs.
fs::path the_run(const fs::path& registry) {
  std::vector<fs::path> runs;
  for (const auto& entry : fs::directory_iterator(registry / ".promptops" / "runs")) {
    runs.push_back(entry.path());
  }
  if (runs.size() != 1) {
    fail(std::string("expected one run folder under .promptops/runs, found ") +
         std::to_string(runs.size()));
  }
  return runs.front();
}

json read_summary(const fs::path& run) {
  try {
    return json::parse(read_file(run / "summary.json"));
  } catch (const std::exception& e) {
    fail(std::string("cannot read ") + (run / "summary.json").string() + ": " + e.what());
  }
}

enum class Expect { no_baseline, no_drift, drift };

// Checks a run's summary: every case passed; without a baseline nothing compared; with one,
// every case compared and nothing regressed; drift exactly when expected (code fences among it).
std::string check_summary(const json& s, int cases, Expect expect) {
  const json& totals = s.at("totals");
  if (totals.at("cases").get<int>() != cases || totals.at("pass").get<int>() != cases) {
    fail(std::string("expected ") + std::to_string(cases) +
         " cases, all passed; totals: " + totals.dump());
  }
  const json& suite = s.at("suites").at(0);
  const json baselines = suite.value("baselines", json::array());
  if (expect == Expect::no_baseline) {
    if (!baselines.empty()) {
      fail(std::string("a run without the baseline file compared with one: ") + baselines.dump());
    }
  } else {
    if (baselines.size() != 1 || baselines[0].value("compared", -1) != cases ||
        !baselines[0].value("regressed", json::array()).empty()) {
      fail(std::string("expected one baseline, ") + std::to_string(cases) +
           " cases compared, none regressed; got: " + baselines.dump().substr(0, 2000));
    }
  }
  const json& drift = s.at("drift");
  std::string features;
  for (const json& d : drift) {
    features += std::string(features.empty() ? "" : ", ") + d.at("feature").get<std::string>();
  }
  if (expect == Expect::drift) {
    if (features.find("code_fence") == std::string::npos) {
      fail(std::string("expected drift with code_fence, got: [") + features + "]");
    }
    if (s.at("gate").at("passed").get<bool>()) {
      fail("the gate passed despite the drift (fail_on_drift: true)");
    }
  } else {
    if (!drift.empty()) {
      fail(std::string("expected no drift, got: [") + features + "] " +
           drift.dump().substr(0, 2000));
    }
    if (!s.at("gate").at("passed").get<bool>()) {
      fail(std::string("the gate failed: ") + s.at("gate").dump());
    }
  }
  return features;
}

// ---- Statistics -----------------------------------------------------------------------------

double quantile(std::vector<double> values, double p = 0.5) {
  std::sort(values.begin(), values.end());
  const double at = p * static_cast<double>(values.size() - 1);
  const auto low = static_cast<std::size_t>(at);
  const std::size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (values[high] - values[low]) * (at - static_cast<double>(low));
}

struct Step {
  std::string label;
  std::string command;
  std::vector<Run> runs;
};

template <typename Field> std::vector<double> field(const Step& s, Field f) {
  std::vector<double> values;
  for (const Run& run : s.runs) {
    values.push_back(run.*f);
  }
  return values;
}

// Per round: a's field less b's; the median of those.
template <typename Field> double median_difference(const Step& a, const Step& b, Field f) {
  std::vector<double> d;
  for (std::size_t i = 0; i < a.runs.size(); ++i) {
    d.push_back(a.runs[i].*f - b.runs[i].*f);
  }
  return quantile(d);
}

std::string with_commas(long n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--cases" && has_value) {
      o.cases = std::atoi(argv[++i]);
    } else if (a == "--runs" && has_value) {
      o.runs = std::atoi(argv[++i]);
    } else if (a == "--keep" && has_value) {
      o.keep = argv[++i];
    } else if (o.promptops.empty() && a.rfind("--", 0) != 0) {
      o.promptops = fs::absolute(a).string();
    } else {
      o.promptops.clear();
      break;
    }
  }
  if (o.promptops.empty() || o.cases < 100 || o.runs < 1) {
    std::fprintf(
        stderr,
        "usage: baseline_scale PROMPTOPS_BINARY [--cases N>=100] [--runs R] [--keep DIR]\n");
    return 2;
  }

  fs::path dir;
  try {
    dir = bench::work_folder(o.keep, "baseline-scale");
  } catch (const bench::BenchError& e) {
    fail(e.what());
  }
  fs::remove_all(dir / "registry");
  fs::remove_all(dir / "aside");
  fs::remove_all(dir / "reports");
  g_dir = dir;
  const fs::path registry = dir / "registry";
  const fs::path aside = dir / "aside";
  const fs::path reports = dir / "reports";
  fs::create_directories(aside);
  fs::create_directories(reports);
  fs::create_directories(dir / "cache");

  const auto generate_start = Clock::now();
  const Generated generated = generate(registry, o);
  std::fprintf(stderr,
               "generated %d cases in %.1f s: outputs %.0f bytes on average, drifted %.0f "
               "(%d of %d wrapped)\n",
               o.cases, std::chrono::duration<double>(Clock::now() - generate_start).count(),
               generated.mean_output_bytes, generated.mean_drifted_bytes, generated.wrapped,
               o.cases);

  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry = *e;
    if (!entry.starts_with("XDG_CACHE_HOME=") && !entry.starts_with("NO_COLOR=")) {
      env.emplace_back(entry);
    }
  }
  env.push_back("NO_COLOR=1");
  env.push_back("XDG_CACHE_HOME=" + (dir / "cache").string());

  // Does this binary write HTML reports yet?
  const Run help = run_promptops({o.promptops, "report", "--help"}, registry, env, dir, 0);
  const bool has_html = help.out.find("--html") != std::string::npos;

  const fs::path baseline_file = registry / "golden/baselines/orders/model.jsonl";
  const fs::path baseline_aside = aside / "model.jsonl";
  const auto use_baseline = [&](bool on) {
    if (on && !fs::exists(baseline_file)) {
      fs::rename(baseline_aside, baseline_file);
    } else if (!on && fs::exists(baseline_file)) {
      fs::rename(baseline_file, baseline_aside);
    }
  };
  const auto use_replay = [&](const std::string& name) {
    const fs::path now = registry / "replays/now.jsonl";
    fs::remove(now);
    fs::create_hard_link(registry / "replays" / name, now);
  };
  const fs::path runs_folder = registry / ".promptops" / "runs";

  const std::string test = "promptops test orders";
  std::vector<Step> steps = {
      {"1 run alone (no baseline), same-form replay", test, {}},
      {"1b run alone (no baseline), drifted replay", test, {}},
      {"2 with baseline, same-form replay (no drift)", test, {}},
      {"3 with baseline, drifted replay (drift)", test, {}},
      {"4 report on run 3",
       std::string("promptops report RUN --markdown F --junit F") + (has_html ? " --html F" : ""),
       {}},
      {"4b the diff report alone on run 3", "promptops report RUN --html F", {}},
  };
  Step& alone = steps[0];
  Step& alone_drifted = steps[1];
  Step& same = steps[2];
  Step& drift = steps[3];
  Step& report = steps[4];
  Step& diff_report = steps[5];

  std::uintmax_t markdown_bytes = 0;
  std::uintmax_t junit_bytes = 0;
  std::uintmax_t html_bytes = 0;
  std::string drift_features;
  std::string drift_messages;

  std::fprintf(stderr, "registry in %s; %u cores, load average %s; HTML report: %s\n",
               registry.c_str(), std::thread::hardware_concurrency(), load_average().c_str(),
               has_html ? "yes" : "not in this binary");

  const auto test_run = [&](Step& step, bool baseline, const std::string& replay, Expect expect,
                            int exit_code, bool keep_run) {
    use_baseline(baseline);
    use_replay(replay);
    fs::remove_all(runs_folder);
    Run run = run_promptops({o.promptops, "test", "orders"}, registry, env, dir, exit_code);
    const fs::path folder = the_run(registry);
    const json summary = read_summary(folder);
    const std::string features = check_summary(summary, o.cases, expect);
    if (expect == Expect::drift) {
      drift_features = features;
      drift_messages.clear();
      for (const json& d : summary.at("drift")) {
        if (const auto m = d.find("message"); m != d.end() && m->is_string()) {
          drift_messages += std::string("  - ") + m->get<std::string>() + "\n";
        }
      }
    }
    step.runs.push_back(std::move(run));
    std::fprintf(stderr, "run %zu/%d  %-46s %7.2f s  cpu %6.2f s  %6.1f MB\n", step.runs.size(),
                 o.runs, step.label.c_str(), step.runs.back().wall_s, step.runs.back().cpu_s,
                 step.runs.back().maxrss_mb);
    if (!keep_run) {
      fs::remove_all(runs_folder);
    }
    return folder;
  };

  // A first round, not counted: warms the page cache with the registry's files.
  {
    use_baseline(true);
    use_replay("drifted.jsonl");
    fs::remove_all(runs_folder);
    const Run warm = run_promptops({o.promptops, "test", "orders"}, registry, env, dir, 1);
    std::fprintf(stderr, "warm-up: %.2f s\n", warm.wall_s);
    fs::remove_all(runs_folder);
  }

  for (int r = 0; r < o.runs; ++r) {
    test_run(alone, false, "same-form.jsonl", Expect::no_baseline, 0, false);
    test_run(alone_drifted, false, "drifted.jsonl", Expect::no_baseline, 0, false);
    test_run(same, true, "same-form.jsonl", Expect::no_drift, 0, false);
    const fs::path drifted_run = test_run(drift, true, "drifted.jsonl", Expect::drift, 1, true);

    const fs::path md = reports / "report.md";
    const fs::path junit = reports / "junit.xml";
    const fs::path html = reports / "report.html";
    fs::remove(md);
    fs::remove(junit);
    fs::remove(html);
    std::vector<std::string> args = {o.promptops,   "report",    drifted_run.filename().string(),
                                     "--markdown",  md.string(), "--junit",
                                     junit.string()};
    if (has_html) {
      args.push_back("--html");
      args.push_back(html.string());
    }
    report.runs.push_back(run_promptops(args, registry, env, dir, 1));
    if (!fs::exists(md) || !fs::exists(junit) || (has_html && !fs::exists(html))) {
      fail("promptops report did not write every file it was asked for");
    }
    markdown_bytes = fs::file_size(md);
    junit_bytes = fs::file_size(junit);
    html_bytes = has_html ? fs::file_size(html) : 0;
    std::fprintf(stderr, "run %zu/%d  %-46s %7.2f s  cpu %6.2f s  %6.1f MB\n", report.runs.size(),
                 o.runs, report.label.c_str(), report.runs.back().wall_s, report.runs.back().cpu_s,
                 report.runs.back().maxrss_mb);
    if (has_html) {
      diff_report.runs.push_back(run_promptops(
          {o.promptops, "report", drifted_run.filename().string(), "--html", html.string()},
          registry, env, dir, 1));
    }
    fs::remove_all(runs_folder);
  }
  use_baseline(true);

  std::printf("\n%s cases (outputs %.0f bytes on average; drifted %.0f, %s of them wrapped), %d "
              "runs each, interleaved; load average after: %s\n\n",
              with_commas(o.cases).c_str(), generated.mean_output_bytes,
              generated.mean_drifted_bytes, with_commas(generated.wrapped).c_str(), o.runs,
              load_average().c_str());
  std::printf("| step | median s | min s | max s | CPU s | peak RSS MB |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (const Step& s : steps) {
    if (s.runs.empty()) {
      continue;
    }
    const auto wall = field(s, &Run::wall_s);
    std::printf("| %s | %.2f | %.2f | %.2f | %.2f | %.1f |\n", s.label.c_str(), quantile(wall),
                quantile(wall, 0), quantile(wall, 1), quantile(field(s, &Run::cpu_s)),
                quantile(field(s, &Run::maxrss_mb)));
  }

  const double cost_same = median_difference(same, alone, &Run::wall_s);
  const double cost_drift = median_difference(drift, alone, &Run::wall_s);
  const double cost_drift_b = median_difference(drift, alone_drifted, &Run::wall_s);
  const double report_s = quantile(field(report, &Run::wall_s));
  std::printf("\nThe cost of baselines, fingerprints and drift (medians of the per-round "
              "differences):\n\n");
  std::printf("| difference | wall s | CPU s | peak RSS MB |\n");
  std::printf("|---|---:|---:|---:|\n");
  std::printf("| 2 - 1 (baseline, no drift) | %.2f | %.2f | %+.1f |\n", cost_same,
              median_difference(same, alone, &Run::cpu_s),
              median_difference(same, alone, &Run::maxrss_mb));
  std::printf("| 3 - 1 (baseline, drift) | %.2f | %.2f | %+.1f |\n", cost_drift,
              median_difference(drift, alone, &Run::cpu_s),
              median_difference(drift, alone, &Run::maxrss_mb));
  std::printf("| 3 - 1b (baseline, drift; same replay) | %.2f | %.2f | %+.1f |\n", cost_drift_b,
              median_difference(drift, alone_drifted, &Run::cpu_s),
              median_difference(drift, alone_drifted, &Run::maxrss_mb));
  std::printf("| 4 report (whole process) | %.2f | %.2f | %.1f |\n", report_s,
              quantile(field(report, &Run::cpu_s)), quantile(field(report, &Run::maxrss_mb)));

  const auto size = [](std::uintmax_t bytes) {
    char text[64];
    std::snprintf(text, sizeof text, "%.2f MB (%s bytes)", static_cast<double>(bytes) / 1e6,
                  with_commas(static_cast<long>(bytes)).c_str());
    return std::string(text);
  };
  std::printf("\nReport files of run 3: Markdown %s, JUnit %s, HTML %s\n",
              size(markdown_bytes).c_str(), size(junit_bytes).c_str(),
              has_html ? size(html_bytes).c_str() : "not measured (this binary has no --html)");
  std::printf("Drift found in run 3: %s\n%s", drift_features.c_str(), drift_messages.c_str());

  // The target's reading: the comparison with the baseline and its drift tests (3 - 1b: the
  // same replay, so the evaluators do the same work), the fingerprints of the run's outputs
  // (which 1b makes too, so they are timed here in the bench's process, one core), and the diff
  // report (--html). The broad reading adds what the drifted outputs cost the evaluators
  // (3 - 1) and the JUnit and Markdown reports.
  const auto verdict = [](const char* what, double total) {
    std::printf("%s: %.2f s, %s", what, total, total < 2.0 ? "met" : "MISSED");
    if (total >= 2.0) {
      std::printf(" (%.2f s over, %.1fx the target)", total - 2.0, total / 2.0);
    }
    std::printf("\n");
  };
  const double prints_s = generated.fingerprint_s;
  std::printf("\nThe run's %s fingerprints, in process on one core: %.2f s (%.1f us an output)\n",
              with_commas(o.cases).c_str(), prints_s, prints_s / o.cases * 1e6);
  std::printf("\nTarget: fingerprinting, drift and the diff report on %s cases under 2 s.\n",
              with_commas(o.cases).c_str());
  if (has_html) {
    const double diff_s = quantile(field(diff_report, &Run::wall_s));
    std::printf("(3 - 1b) %.2f s + fingerprints %.2f s + report --html %.2f s\n", cost_drift_b,
                prints_s, diff_s);
    verdict("  the comparison, fingerprints and diff report", cost_drift_b + prints_s + diff_s);
  }
  std::printf("(3 - 1) %.2f s + report (all formats) %.2f s\n", cost_drift, report_s);
  verdict("  broad reading, with the evaluators' extra work and every format",
          cost_drift + report_s);
  if (has_html) {
    std::printf("HTML page under 5 MB (the target is for 10,000 cases; this is %s): %.2f MB\n",
                with_commas(o.cases).c_str(), static_cast<double>(html_bytes) / 1e6);
  }

  if (o.keep.empty()) {
    fs::remove_all(dir);
  } else {
    std::fprintf(stderr, "kept the registry in %s\n", registry.c_str());
  }
  return 0;
}
