// The scale curve (the issue "scale curve: cost per case from 100 to 100,000 cases stays flat:
// no quadratic step in loading, matrix building, scoring, reporting or the journal"): whole
// process, wall time, CPU time and peak memory per size, medians over interleaved runs; each
// size's cost per case beside the cost per case at 1,000, and the cost per case added since the
// size before (which leaves start-up out).
//
//   scale_curve PROMPTOPS_BINARY [--sizes 100,1000,10000,100000] [--runs 3] [--keep DIR]
//
// For each size N it generates a registry in a temporary folder (or DIR with --keep, which is
// left in place), DIR/N/registry: an `openai` provider pointing at the fake provider (0 ms), a
// prompt `record` whose user message is templated from the case's vars and ends in the fake's
// `[[reply: ...]]` directive, and a suite `records` of N cases scored by exact_match (with the
// case's expected), contains, regex, is_json and json_schema: the workload of
// bench/compare_promptfoo.py, whose replies are JSON records and 30% of whose cases fail
// (planted by i % 20; the gate, min_pass_rate 1.0, fails: exit code 1). The response cache is
// private to each size (XDG_CACHE_HOME in DIR/N/cache).
//
// The fake provider runs in this process (library promptops_fake_provider), so the bench counts
// the requests it received; its threads share the machine's cores with promptops.
//
// Steps, each a child process timed by wait4, RUNS rounds, each round every size in turn:
//   test      `promptops test records --no-cache --concurrency 16`: the whole run (loading,
//             planning, calls, scoring, the journal, the summary); N requests received
//   cached    `promptops test records --concurrency 16`, every reply from the cache: loading,
//             planning, scoring and the journal without the network; 0 requests received
//   report    `promptops report RUN --markdown F --junit F --html F` on the run of `test`
//   validate  `promptops validate`: the registry and its N cases, each one rendered
// A default run (4 sizes, 3 runs) takes 1 to 1.5 minutes on a 2-core machine.
// Every run is checked (exit code, the summary's counts and requests, the requests the fake
// received, the report files); anything else stops the bench with exit code 1. A first round of
// `test`, not counted, checks each registry and warms the page cache. Peak memory is promptops's
// alone when the machine has GNU time (see bench_support's spawn_and_wait).
#include "tests/fake_provider/fake_provider.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include "bench/support/bench_support.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

fs::path g_dir; // the bench's folder, kept when a run fails

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "scale_curve: FAILED: %s\n", message.c_str());
  if (!g_dir.empty()) {
    std::fprintf(stderr, "scale_curve: the registries are kept in %s\n", g_dir.c_str());
  }
  std::exit(1);
}

namespace bench = promptops::bench;
using bench::load_average;

void write_file(const fs::path& path, const std::string& text) {
  try {
    bench::write_file(path, text);
  } catch (const bench::BenchError& e) {
    fail(e.what());
  }
}

struct Options {
  std::string promptops;
  std::vector<int> sizes = {100, 1000, 10000, 100000};
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

// ---- The workload (bench/compare_promptfoo.py's) ---------------------------------------------

// A JSON string literal of `text`, which holds no control characters.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out + "\"";
}

std::string record(int i, const std::string& status, const std::string& tag, bool with_score) {
  const std::string n = std::to_string(i);
  return R"({"id": )" + n + R"(, "name": "item-)" + n + R"(", "status": ")" + status + "\"" +
         (with_score ? R"(, "score": )" + std::to_string(i % 101) : "") +
         R"(, "tags": ["bench", ")" + tag + "\"]}";
}

struct Planted {
  std::string reply;    // what the fake answers
  std::string expected; // what exact_match compares it with
  bool passes = false;
};

// Case i's reply by i % 20, as compare_promptfoo.py plants them: 3 and 13 other tags (exact
// match fails); 6 and 16 status "failed" (exact match, regex and schema fail); 9 prose (every
// check fails); 19 no score (the schema fails); 1 status "done"; the rest the record. 70% pass.
Planted planted(int i) {
  const std::string tag = "t" + std::to_string(i % 7);
  const std::string good = record(i, "ok", tag, true);
  switch (i % 20) {
  case 3:
  case 13:
    return {record(i, "ok", "other", true), good, false};
  case 6:
  case 16:
    return {record(i, "failed", tag, true), good, false};
  case 9:
    return {"Sorry, I cannot find item " + std::to_string(i) + ".", good, false};
  case 19: {
    const std::string reply = record(i, "ok", tag, false);
    return {reply, reply, false};
  }
  case 1: {
    const std::string reply = record(i, "done", tag, true);
    return {reply, reply, true};
  }
  default:
    return {good, good, true};
  }
}

// Writes the registry of `cases` cases; returns how many of them pass.
int generate(const fs::path& registry, const std::string& base_url, int cases) {
  write_file(registry / "promptops.yaml", "version: 1\n"
                                          "providers:\n"
                                          "  openai:\n"
                                          "    type: openai\n"
                                          "    base_url: " +
                                              base_url +
                                              "\n"
                                              "    api_key_env: PROMPTOPS_BENCH_KEY\n"
                                              "    model: bench-model\n"
                                              "    params: {temperature: 0, max_tokens: 128}\n");
  write_file(registry / "prompts/record.yaml",
             "description: The record of an item, as JSON\n"
             "messages:\n"
             "  - role: system\n"
             "    content: You are a records service.\n"
             "  - role: user\n"
             "    content: |-\n"
             "      Reply with the record of item {{n}}, named {{name}}, as one JSON object and "
             "nothing else.\n"
             "      [[reply: {{reply}}]]\n"
             "input:\n"
             "  required: [n, name, reply]\n");
  write_file(registry / "schemas/record.json",
             R"({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
 "required": ["id", "name", "status", "score", "tags"], "additionalProperties": false,
 "properties": {"id": {"type": "integer", "minimum": 0},
                "name": {"type": "string", "pattern": "^item-[0-9]+$"},
                "status": {"enum": ["ok", "done"]},
                "score": {"type": "integer", "minimum": 0, "maximum": 100},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5}}}
)");
  write_file(registry / "golden/records.yaml",
             "prompt: record\n"
             "providers: [openai]\n"
             "cases: records.jsonl\n"
             "evaluators:\n"
             "  - {type: exact_match}\n"
             "  - {type: contains, value: '\"name\": \"item-'}\n"
             "  - {type: regex, pattern: '\"status\": \"(ok|done)\"'}\n"
             "  - {type: is_json}\n"
             "  - {type: json_schema, schema: schemas/record.json}\n");
  std::string lines;
  int passes = 0;
  for (int i = 0; i < cases; ++i) {
    const Planted p = planted(i);
    passes += p.passes ? 1 : 0;
    const std::string n = std::to_string(i);
    lines += R"({"id": "c)" + n + R"(", "vars": {"n": )" + n + R"(, "name": "item-)" + n +
             R"(", "reply": )" + quoted(p.reply) + R"(}, "expected": )" + quoted(p.expected) +
             "}\n";
  }
  write_file(registry / "golden/records.jsonl", lines);
  return passes;
}

// ---- Checks ----------------------------------------------------------------------------------

// The totals line of promptops's summary ("N cases: P pass, F fail, E error; ...; S requests
// sent, C cached") and the run's id ("run ID: FOLDER"). Plain string search: no regex over
// output that could be long.
struct Summary {
  int cases = -1, passed = -1, failed = -1, errors = -1, sent = -1, cached = -1;
  std::string run_id;
};

Summary read_summary(const std::string& out) {
  Summary s;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (const auto at = line.find(" requests sent, "); at != std::string::npos) {
      std::sscanf(line.c_str(), "%d cases: %d pass, %d fail, %d error;", &s.cases, &s.passed,
                  &s.failed, &s.errors);
      const auto from = line.rfind("; ", at);
      if (from != std::string::npos) {
        std::sscanf(line.c_str() + from + 2, "%d requests sent, %d cached", &s.sent, &s.cached);
      }
    } else if (line.starts_with("run ") && line.find(": ") != std::string::npos) {
      s.run_id = line.substr(4, line.find(": ") - 4);
    }
  }
  return s;
}

// Checks a summary of the suite's `cases` cases, `passes` of them passing, and the requests
// `sent` and `cached` (when the output has them).
void check_summary(const std::string& what, const Summary& s, int cases, int passes, int sent,
                   int cached, const std::string& out) {
  if (s.cases != cases || s.passed != passes || s.failed != cases - passes || s.errors != 0) {
    fail(what + ": expected " + std::to_string(cases) + " cases, " + std::to_string(passes) +
         " pass, " + std::to_string(cases - passes) + " fail, 0 error; got " +
         std::to_string(s.cases) + ", " + std::to_string(s.passed) + ", " +
         std::to_string(s.failed) + ", " + std::to_string(s.errors) + "\n" + out.substr(0, 4000));
  }
  if (sent >= 0 && (s.sent != sent || s.cached != cached)) {
    fail(what + ": expected " + std::to_string(sent) + " requests sent and " +
         std::to_string(cached) + " cached; got " + std::to_string(s.sent) + " and " +
         std::to_string(s.cached));
  }
}

// ---- Statistics and printing -----------------------------------------------------------------

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

template <typename Field> double median_of(const std::vector<Run>& runs, Field f) {
  std::vector<double> values;
  for (const Run& run : runs) {
    values.push_back(run.*f);
  }
  return median(values);
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

// The source tree's commit, with "-dirty" when it has uncommitted changes, or "unknown" (the
// binary's only if it was built from that tree).
std::string commit() {
  const std::string command =
      std::string("git -C '") + PROMPTOPS_SOURCE_DIR + "' describe --always --dirty 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return "unknown";
  }
  char buffer[64] = {};
  const bool read = std::fgets(buffer, sizeof buffer, pipe) != nullptr;
  ::pclose(pipe);
  std::string hash = read ? buffer : "";
  hash.erase(hash.find_last_not_of(" \n") + 1);
  return hash.empty() ? "unknown" : hash;
}

enum Step { k_test, k_cached, k_report, k_validate, k_steps };
const char* const k_step_names[] = {"test --no-cache", "test, cached rerun", "report (3 formats)",
                                    "validate"};

// One size's registry and what its runs gave.
struct Size {
  int cases = 0;
  int passes = 0;
  fs::path root; // DIR/N: registry/, cache/, reports/
  std::vector<std::string> env;
  std::vector<Run> runs[k_steps];
  std::uintmax_t report_bytes[3] = {}; // Markdown, JUnit, HTML of the last report
};

} // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--sizes" && has_value) {
      o.sizes.clear();
      std::istringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) {
        o.sizes.push_back(std::atoi(item.c_str()));
      }
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
  std::sort(o.sizes.begin(), o.sizes.end());
  o.sizes.erase(std::unique(o.sizes.begin(), o.sizes.end()), o.sizes.end());
  if (o.promptops.empty() || o.sizes.empty() || o.sizes.front() < 1 || o.runs < 1) {
    std::fprintf(stderr, "usage: scale_curve PROMPTOPS_BINARY [--sizes N,N,...] [--runs R] "
                         "[--keep DIR]\n");
    return 2;
  }

  fs::path dir;
  try {
    dir = bench::work_folder(o.keep, "scale-curve");
  } catch (const bench::BenchError& e) {
    fail(e.what());
  }
  g_dir = dir;

  promptops::fake::FakeProvider fake;

  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry = *e;
    if (!entry.starts_with("XDG_CACHE_HOME=") && !entry.starts_with("NO_COLOR=") &&
        !entry.starts_with("PROMPTOPS_BENCH_KEY=")) {
      env.emplace_back(entry);
    }
  }
  env.push_back("NO_COLOR=1");
  env.push_back("PROMPTOPS_BENCH_KEY=sk-bench");

  std::vector<Size> sizes;
  for (const int n : o.sizes) {
    Size s;
    s.cases = n;
    s.root = dir / std::to_string(n);
    fs::remove_all(s.root);
    fs::create_directories(s.root / "cache");
    fs::create_directories(s.root / "reports");
    s.passes = generate(s.root / "registry", fake.base_url() + "/v1", n);
    s.env = env;
    s.env.push_back("XDG_CACHE_HOME=" + (s.root / "cache").string());
    sizes.push_back(std::move(s));
  }

  const std::string start_load = load_average();
  std::fprintf(stderr, "registries in %s; %u cores, load average %s\n", dir.c_str(),
               std::thread::hardware_concurrency(), start_load.c_str());

  // `promptops test` at 0 ms: every case sent; each reply replaces its entry in the cache, which
  // the cached rerun then reads. Leaves the run's folder for the report.
  const auto run_test = [&](Size& s, bool use_cache) {
    const fs::path registry = s.root / "registry";
    fs::remove_all(registry / ".promptops" / "runs");
    fake.reset();
    std::vector<std::string> args = {o.promptops, "test", "records", "--concurrency", "16"};
    if (!use_cache) {
      args.push_back("--no-cache");
    }
    Run run = run_promptops(args, registry, s.env, dir, 1);
    const std::string what = std::string(use_cache ? "cached rerun" : "test") + " of " +
                             std::to_string(s.cases) + " cases";
    const Summary summary = read_summary(run.out);
    const int sent = use_cache ? 0 : s.cases;
    check_summary(what, summary, s.cases, s.passes, sent, s.cases - sent, run.out);
    if (fake.request_count() != static_cast<std::size_t>(sent)) {
      fail(what + ": the fake provider received " + std::to_string(fake.request_count()) +
           " requests, expected " + std::to_string(sent));
    }
    if (summary.run_id.empty() ||
        !fs::exists(registry / ".promptops" / "runs" / summary.run_id / "results.jsonl")) {
      fail(what + ": no run folder named in the output:\n" + run.out.substr(0, 4000));
    }
    return std::pair{std::move(run), summary.run_id};
  };

  const auto run_report = [&](Size& s, const std::string& run_id) {
    const fs::path files[3] = {s.root / "reports/report.md", s.root / "reports/junit.xml",
                               s.root / "reports/report.html"};
    for (const fs::path& f : files) {
      fs::remove(f);
    }
    // Exit code 1: the run's verdict, its gate failed.
    Run run = run_promptops({o.promptops, "report", run_id, "--markdown", files[0].string(),
                             "--junit", files[1].string(), "--html", files[2].string()},
                            s.root / "registry", s.env, dir, 1);
    check_summary("report of " + std::to_string(s.cases) + " cases", read_summary(run.out), s.cases,
                  s.passes, -1, -1, run.out);
    for (int f = 0; f < 3; ++f) {
      if (!fs::exists(files[f]) || fs::file_size(files[f]) == 0) {
        fail("promptops report did not write " + files[f].string());
      }
      s.report_bytes[f] = fs::file_size(files[f]);
    }
    return run;
  };

  const auto progress = [&](int round, const Size& s, Step step) {
    const Run& r = s.runs[step].back();
    std::fprintf(stderr, "run %d/%d  %7d cases  %-20s %8.2f s  cpu %7.2f s  %7.1f MB\n", round,
                 o.runs, s.cases, k_step_names[step], r.wall_s, r.cpu_s, r.maxrss_mb);
  };

  for (Size& s : sizes) {
    const Run warm = run_test(s, false).first;
    std::fprintf(stderr, "warm-up: %d cases in %.2f s\n", s.cases, warm.wall_s);
  }
  for (int round = 1; round <= o.runs; ++round) {
    for (Size& s : sizes) {
      auto [run, run_id] = run_test(s, false);
      s.runs[k_test].push_back(std::move(run));
      progress(round, s, k_test);
      s.runs[k_report].push_back(run_report(s, run_id));
      progress(round, s, k_report);
      s.runs[k_cached].push_back(run_test(s, true).first);
      progress(round, s, k_cached);
      fs::remove_all(s.root / "registry" / ".promptops" / "runs");
      s.runs[k_validate].push_back(
          run_promptops({o.promptops, "validate"}, s.root / "registry", s.env, dir, 0));
      progress(round, s, k_validate);
    }
  }

  // Per-case cost is compared with 1,000 cases, not 100: at 100 the start-up (loading the
  // binary, the schemas, the cache database, curl) is most of a run, so every larger size would
  // look cheaper per case. The cost per added case, from the size before, leaves start-up out.
  const auto reference =
      std::find_if(sizes.begin(), sizes.end(), [](const Size& s) { return s.cases == 1000; });
  const Size& ref = reference != sizes.end() ? *reference : sizes.front();

  std::printf("\nscale_curve, source tree at %s: 0 ms fake provider, concurrency 16, %d runs each, "
              "interleaved across sizes; medians. Load average at start %s, at end %s.\n\n",
              commit().c_str(), o.runs, start_load.c_str(), load_average().c_str());
  std::printf(
      "| step | cases | wall s | CPU s | wall us/case | CPU us/case | wall us per added case "
      "| CPU us per added case | peak RSS MB | wall/case vs %s | CPU/case vs %s |\n",
      with_commas(ref.cases).c_str(), with_commas(ref.cases).c_str());
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int step = 0; step < k_steps; ++step) {
    const double ref_wall = median_of(ref.runs[step], &Run::wall_s) / ref.cases;
    const double ref_cpu = median_of(ref.runs[step], &Run::cpu_s) / ref.cases;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const Size& s = sizes[i];
      const double wall = median_of(s.runs[step], &Run::wall_s);
      const double cpu = median_of(s.runs[step], &Run::cpu_s);
      std::string added = " | ";
      if (i > 0) {
        const Size& before = sizes[i - 1];
        const double more = s.cases - before.cases;
        char text[64];
        std::snprintf(text, sizeof text, "%.1f | %.1f",
                      (wall - median_of(before.runs[step], &Run::wall_s)) * 1e6 / more,
                      (cpu - median_of(before.runs[step], &Run::cpu_s)) * 1e6 / more);
        added = text;
      }
      std::printf("| %s | %s | %.3f | %.3f | %.1f | %.1f | %s | %.1f | %.2f | %.2f |\n",
                  k_step_names[step], with_commas(s.cases).c_str(), wall, cpu, wall * 1e6 / s.cases,
                  cpu * 1e6 / s.cases, added.c_str(), median_of(s.runs[step], &Run::maxrss_mb),
                  wall / s.cases / ref_wall, cpu / s.cases / ref_cpu);
    }
  }

  std::printf("\nReport files (Markdown, JUnit, HTML), MB:");
  for (const Size& s : sizes) {
    std::printf(" %s cases %.2f, %.2f, %.2f;", with_commas(s.cases).c_str(),
                static_cast<double>(s.report_bytes[0]) / 1e6,
                static_cast<double>(s.report_bytes[1]) / 1e6,
                static_cast<double>(s.report_bytes[2]) / 1e6);
  }
  std::printf("\n");

  if (o.keep.empty()) {
    fs::remove_all(dir);
  } else {
    std::fprintf(stderr, "kept the registries in %s\n", dir.c_str());
  }
  return 0;
}
