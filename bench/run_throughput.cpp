// Throughput of `promptops test` against the project's fake provider (the issue "runner"):
// whole process, wall time and peak memory, medians over interleaved runs.
//
//   run_throughput PROMPTOPS_BINARY [--cases 10000] [--serial-cases 200] [--runs 5]
//                  [--latency-ms 50] [--keep DIR]
//
// Generates a registry in a temporary folder (or DIR with --keep, which is left in place): an
// `openai` provider pointing at the fake, a prompt `ask` whose user message is {{q}}, a suite
// `s` of N cases scored by `starts_with "echo: "`, and a suite `serial` of the first M of them.
// The response cache is private (XDG_CACHE_HOME in the folder).
//
// The fake provider runs in this process (library promptops_fake_provider), so that the bench
// counts the requests it really received and measures its CPU time (getrusage of this process)
// apart from promptops's (wait4 of the child). Each run is checked: exit code 0, the summary's
// "N cases: N pass, 0 fail, 0 error", the requests sent and cached it reports, and the requests
// the fake received; anything else stops the bench with exit code 1.
//
// Scenarios, each run RUNS times, interleaved:
//   0 ms latency, concurrency 64, N cases, --no-cache     cases per second, peak memory
//   the same with an empty cache folder instead           (new cache entries, not replaced)
//   the same with --no-cache and the cache on tmpfs       (/dev/shm: no disk file system)
//   L ms latency, concurrency 1, M cases, --no-cache      beside the ideal M x L
//   L ms latency, concurrency 16 and 64, N cases          beside the ideal N x L / C
//   cached rerun of N cases (no --no-cache)               wall time; nothing is sent
#include "tests/fake_provider/fake_provider.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <regex>
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
using Clock = std::chrono::steady_clock;

fs::path g_dir;    // the bench's folder, kept when a run fails
fs::path g_memory; // a cache folder on tmpfs (/dev/shm), always removed

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "run_throughput: FAILED: %s\n", message.c_str());
  if (!g_memory.empty()) {
    std::error_code ignored;
    fs::remove_all(g_memory, ignored);
  }
  if (!g_dir.empty()) {
    std::fprintf(stderr, "run_throughput: the registry is kept in %s\n", g_dir.c_str());
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

double seconds_of(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

// CPU seconds (user + system) of the fake provider's threads: this process's, less this
// thread's (which starts promptops, waits for it and reads its output).
double fake_cpu_seconds() {
  rusage process{};
  rusage thread{};
  getrusage(RUSAGE_SELF, &process);
  getrusage(RUSAGE_THREAD, &thread);
  return seconds_of(process.ru_utime) + seconds_of(process.ru_stime) - seconds_of(thread.ru_utime) -
         seconds_of(thread.ru_stime);
}

struct Options {
  std::string promptops;
  int cases = 10000;
  int serial_cases = 200;
  int runs = 5;
  int latency_ms = 50;
  std::string keep;
};

// One finished run of promptops.
struct Run {
  double wall_s = 0;
  double maxrss_mb = 0;       // the child's peak resident set
  double promptops_cpu_s = 0; // the child's user + system time
  double fake_cpu_s = 0;      // the fake provider's meanwhile
  std::string out;
};

// Runs `args` in `cwd` with `env`, stdout and stderr into files of `scratch`; fails unless it
// exits with 0.
Run run_promptops(const std::vector<std::string>& args, const fs::path& cwd,
                  const std::vector<std::string>& env, const fs::path& scratch) {
  const double cpu_before = fake_cpu_seconds();
  bench::Spawned s;
  try {
    s = bench::spawn_and_wait(args, cwd, env, scratch);
  } catch (const bench::BenchError& e) {
    fail(e.what());
  }
  Run run;
  run.fake_cpu_s = fake_cpu_seconds() - cpu_before;
  if (std::string why; !bench::exited_with(s, 0, args, why)) {
    fail(why);
  }
  run.wall_s = s.wall_s;
  run.maxrss_mb = s.maxrss_mb;
  run.promptops_cpu_s = s.cpu_s;
  run.out = std::move(s.out);
  return run;
}

// Checks the summary promptops printed: every case passed, `sent` requests and `cached`
// replies.
void check_summary(const std::string& out, int cases, int sent, int cached) {
  static const std::regex total(
      R"((\d+) cases: (\d+) pass, (\d+) fail, (\d+) error;.*; (\d+) requests sent, (\d+) cached)");
  std::smatch match;
  if (!std::regex_search(out, match, total)) {
    fail("no summary line in the output:\n" + out);
  }
  const auto number = [&](std::size_t i) { return std::stoi(match[i].str()); };
  if (number(1) != cases || number(2) != cases || number(3) != 0 || number(4) != 0) {
    fail("expected " + std::to_string(cases) + " cases, all passed; got: " + match[0].str() + "\n" +
         out);
  }
  if (number(5) != sent || number(6) != cached) {
    fail("expected " + std::to_string(sent) + " requests sent and " + std::to_string(cached) +
         " cached; got: " + match[0].str());
  }
}

// How a run uses the response cache.
enum class Cache {
  bypass,           // --no-cache: every case is sent; each reply replaces its entry in the cache
  bypass_in_memory, // the same with the cache folder on tmpfs (/dev/shm): no disk file system
  empty,            // a new, empty cache folder: every case is sent and makes a new entry
  warm,             // every reply is in the cache: nothing is sent
};

struct Scenario {
  std::string label;
  std::string suite;
  int cases = 0;
  int concurrency = 0;
  int latency_ms = 0;
  Cache cache = Cache::bypass;
  std::vector<Run> runs;
  bool offline = false; // the echo provider: no request, nothing cached
  bool judged = false;  // plus an llm_judge on the fake: one judge request a case
};

double median_of(std::vector<double> values, double p = 0.5) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

template <typename Field> std::vector<double> field(const Scenario& s, Field f) {
  std::vector<double> values;
  for (const Run& run : s.runs) {
    values.push_back(run.*f);
  }
  return values;
}

void generate(const fs::path& registry, const std::string& base_url, const Options& o) {
  write_file(registry / "promptops.yaml", "version: 1\n"
                                          "providers:\n"
                                          "  openai:\n"
                                          "    type: openai\n"
                                          "    base_url: " +
                                              base_url +
                                              "\n"
                                              "    api_key_env: PROMPTOPS_BENCH_KEY\n"
                                              "    model: bench-model\n"
                                              "  echo:\n"
                                              "    type: echo\n");
  write_file(registry / "prompts/ask.yaml", "messages:\n"
                                            "  - role: system\n"
                                            "    content: You answer briefly.\n"
                                            "  - role: user\n"
                                            "    content: \"{{q}}\"\n"
                                            "input:\n"
                                            "  required: [q]\n");
  const std::string suite = "prompt: ask\nproviders: [openai]\ncases: CASES\nevaluators:\n"
                            "  - {type: starts_with, value: \"echo: \"}\n";
  const auto suite_for = [&](const std::string& cases) {
    std::string text = suite;
    text.replace(text.find("CASES"), 5, cases);
    return text;
  };
  write_file(registry / "golden/s.yaml", suite_for("s.jsonl"));
  write_file(registry / "golden/serial.yaml", suite_for("serial.jsonl"));
  std::string all;
  std::string serial;
  for (int i = 0; i < o.cases; ++i) {
    const std::string line = R"({"id": "c)" + std::to_string(i) +
                             R"(", "vars": {"q": "What is the answer to question )" +
                             std::to_string(i) + R"(?"}})" + "\n";
    all += line;
    if (i < o.serial_cases) {
      serial += line;
    }
  }
  write_file(registry / "golden/s.jsonl", all);
  write_file(registry / "golden/serial.jsonl", serial);

  // The evaluator set on the echo provider (no calls): the cost of scoring alone. Each case's
  // question is the JSON answer it gets back.
  write_file(registry / "prompts/classify.yaml", "provider: echo\n"
                                                 "messages:\n"
                                                 "  - role: user\n"
                                                 "    content: \"{{{q}}}\"\n"
                                                 "output_schema: schemas/classification.json\n");
  write_file(registry / "schemas/classification.json",
             R"({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
 "required": ["category", "confidence"], "additionalProperties": false,
 "properties": {"category": {"enum": ["billing", "shipping", "account", "other"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}}}})");
  const std::string six_evaluators =
      "prompt: classify\nproviders: [echo]\ncases: evals.jsonl\nevaluators:\n"
      "  - {type: json_schema}\n"
      "  - {type: exact_match, path: /category}\n"
      "  - {type: regex, pattern: '\"confidence\": 0\\.[0-9]+'}\n"
      "  - {type: contains, value: billing}\n"
      "  - {type: is_json}\n"
      "  - {type: similarity, value: '{\"category\": \"billing\", \"confidence\": 0.9}', "
      "threshold: 0.5}\n";
  write_file(registry / "golden/evals.yaml", six_evaluators);
  // The same with a judge on the fake provider: the judge's calls run while later cases are
  // scored, through the engine's lane, retries and cache.
  write_file(
      registry / "golden/judged.yaml",
      six_evaluators +
          "  - {type: llm_judge, provider: openai, rubric: \"RUBRIC-BENCH names a category\"}\n");
  std::string evals;
  for (int i = 0; i < o.cases; ++i) {
    evals +=
        R"({"id": "e)" + std::to_string(i) +
        R"(", "vars": {"q": "{\"category\": \"billing\", \"confidence\": 0.9, \"tags\": [\"t)" +
        std::to_string(i) + R"(\"]}"}, "expected": {"category": "billing"}})" + "\n";
  }
  write_file(registry / "golden/evals.jsonl", evals);
}

} // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--cases" && has_value) {
      o.cases = std::atoi(argv[++i]);
    } else if (a == "--serial-cases" && has_value) {
      o.serial_cases = std::atoi(argv[++i]);
    } else if (a == "--runs" && has_value) {
      o.runs = std::atoi(argv[++i]);
    } else if (a == "--latency-ms" && has_value) {
      o.latency_ms = std::atoi(argv[++i]);
    } else if (a == "--keep" && has_value) {
      o.keep = argv[++i];
    } else if (o.promptops.empty() && a.rfind("--", 0) != 0) {
      o.promptops = fs::absolute(a).string();
    } else {
      o.promptops.clear();
      break;
    }
  }
  if (o.promptops.empty() || o.cases < 1 || o.serial_cases < 1 || o.serial_cases > o.cases ||
      o.runs < 1 || o.latency_ms < 1) {
    std::fprintf(stderr, "usage: run_throughput PROMPTOPS_BINARY [--cases N] [--serial-cases M<=N] "
                         "[--runs R] [--latency-ms L>=1] [--keep DIR]\n");
    return 2;
  }

  fs::path dir;
  try {
    dir = bench::work_folder(o.keep, "throughput");
  } catch (const bench::BenchError& e) {
    fail(e.what());
  }
  fs::remove_all(dir / "registry");
  fs::remove_all(dir / "cache");
  g_dir = dir;
  const fs::path registry = dir / "registry";
  const fs::path cache = dir / "cache";
  fs::create_directories(cache);

  // 128 connection threads: more than 64 in flight. The rule answers the judge.
  promptops::fake::FakeProvider fake(promptops::fake::FakeProviderOptions{
      .rules = {{"RUBRIC-BENCH",
                 R"({"score": 1, "pass": true, "reason": "names the billing category"})"}}});
  generate(registry, fake.base_url() + "/v1", o);

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
  const auto env_with_cache = [&env](const fs::path& folder) {
    std::vector<std::string> with = env;
    with.push_back("XDG_CACHE_HOME=" + folder.string());
    return with;
  };

  const auto run_scenario = [&](const Scenario& s) {
    fake.set_latency_ms(s.latency_ms);
    fake.reset();
    std::vector<std::string> args = {o.promptops, "test", s.suite, "--concurrency",
                                     std::to_string(s.concurrency)};
    if (s.cache == Cache::bypass || s.cache == Cache::bypass_in_memory) {
      args.push_back("--no-cache");
    }
    const fs::path empty_cache = dir / "empty-cache";
    const fs::path folder = s.cache == Cache::empty              ? empty_cache
                            : s.cache == Cache::bypass_in_memory ? g_memory
                                                                 : cache;
    Run run = run_promptops(args, registry, env_with_cache(folder), dir);
    const int sent = s.cache == Cache::warm || s.offline ? 0 : s.cases;
    check_summary(run.out, s.cases, sent, s.offline ? 0 : s.cases - sent);
    const int received = s.judged ? s.cases : sent;
    if (fake.request_count() != static_cast<std::size_t>(received)) {
      fail(s.label + ": the fake provider received " + std::to_string(fake.request_count()) +
           " requests, expected " + std::to_string(received));
    }
    // Each run writes its results under .promptops/runs; later runs need none of them.
    fs::remove_all(registry / ".promptops" / "runs");
    fs::remove_all(empty_cache);
    return run;
  };

  const std::string l = std::to_string(o.latency_ms) + " ms";
  std::vector<Scenario> scenarios = {
      {"0 ms latency, concurrency 64, --no-cache", "s", o.cases, 64, 0, Cache::bypass, {}},
      {"0 ms latency, concurrency 64, empty cache", "s", o.cases, 64, 0, Cache::empty, {}},
      {"0 ms latency, concurrency 64, --no-cache, cache on tmpfs",
       "s",
       o.cases,
       64,
       0,
       Cache::bypass_in_memory,
       {}},
      {l + " latency, concurrency 1", "serial", o.serial_cases, 1, o.latency_ms, Cache::bypass, {}},
      {l + " latency, concurrency 16", "s", o.cases, 16, o.latency_ms, Cache::bypass, {}},
      {l + " latency, concurrency 64", "s", o.cases, 64, o.latency_ms, Cache::bypass, {}},
      {"cached rerun", "s", o.cases, 64, 0, Cache::warm, {}},
      {"echo provider, six evaluators", "evals", o.cases, 64, 0, Cache::bypass, {}, true},
      {"echo provider, six evaluators + llm_judge (fake, 0 ms)",
       "judged",
       o.cases,
       64,
       0,
       Cache::bypass,
       {},
       true,
       true},
  };

  // A cache folder in memory, to tell the file system's share of a run from the rest.
  if (char pattern[] = "/dev/shm/promptops-throughput-XXXXXX"; ::mkdtemp(pattern) != nullptr) {
    g_memory = pattern;
  } else {
    std::erase_if(scenarios, [](const Scenario& s) { return s.cache == Cache::bypass_in_memory; });
  }

  std::fprintf(stderr, "registry in %s; %u cores, load average %s\n", registry.c_str(),
               std::thread::hardware_concurrency(), load_average().c_str());
  // Fills the response cache for the cached reruns (and checks the set-up once).
  {
    fake.reset();
    const Run run = run_promptops({o.promptops, "test", "s", "--concurrency", "64"}, registry,
                                  env_with_cache(cache), dir);
    check_summary(run.out, o.cases, o.cases, 0);
    fs::remove_all(registry / ".promptops" / "runs");
    std::fprintf(stderr, "warm-up: %d cases in %.2f s\n", o.cases, run.wall_s);
  }
  for (int r = 0; r < o.runs; ++r) {
    for (Scenario& s : scenarios) {
      s.runs.push_back(run_scenario(s));
      std::fprintf(stderr, "run %d/%d  %-42s %8.2f s  %6.1f MB\n", r + 1, o.runs, s.label.c_str(),
                   s.runs.back().wall_s, s.runs.back().maxrss_mb);
    }
  }

  std::printf("\n%d cases (%d at concurrency 1), %d runs each, interleaved; load average after: "
              "%s\n\n",
              o.cases, o.serial_cases, o.runs, load_average().c_str());
  std::printf("| scenario | cases | median s | p90 s | cases/s | ideal s | vs ideal | peak RSS MB "
              "| promptops CPU ms/case | fake CPU us/request |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  double peak_mb = 0;
  for (const Scenario& s : scenarios) {
    const double wall = median_of(field(s, &Run::wall_s));
    const double rss = median_of(field(s, &Run::maxrss_mb));
    peak_mb = std::max(peak_mb, median_of(field(s, &Run::maxrss_mb), 1.0));
    const double cpu_ms = median_of(field(s, &Run::promptops_cpu_s)) * 1000 / s.cases;
    std::string ideal = "";
    std::string ratio = "";
    if (s.latency_ms > 0) {
      const double ideal_s = static_cast<double>(s.cases) * s.latency_ms / 1000.0 / s.concurrency;
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.2f", ideal_s);
      ideal = buffer;
      std::snprintf(buffer, sizeof buffer, "%.2fx", wall / ideal_s);
      ratio = buffer;
    }
    std::string fake_us = "-";
    if (s.cache != Cache::warm) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.1f",
                    median_of(field(s, &Run::fake_cpu_s)) * 1e6 / s.cases);
      fake_us = buffer;
    }
    std::printf("| %s | %d | %.2f | %.2f | %.0f | %s | %s | %.1f | %.3f | %s |\n", s.label.c_str(),
                s.cases, wall, median_of(field(s, &Run::wall_s), 0.9), s.cases / wall,
                ideal.c_str(), ratio.c_str(), rss, cpu_ms, fake_us.c_str());
  }

  const auto verdict = [](bool met) { return met ? "met" : "MISSED"; };
  const auto find = [&](int latency_ms, int concurrency, Cache mode) -> const Scenario& {
    return *std::find_if(scenarios.begin(), scenarios.end(), [&](const Scenario& s) {
      return s.latency_ms == latency_ms && s.concurrency == concurrency && s.cache == mode;
    });
  };
  const Scenario& zero = find(0, 64, Cache::bypass);
  const Scenario& wide = find(o.latency_ms, 64, Cache::bypass);
  const Scenario& cached = find(0, 64, Cache::warm);
  const double zero_rate = zero.cases / median_of(field(zero, &Run::wall_s));
  const double wide_ratio = median_of(field(wide, &Run::wall_s)) /
                            (static_cast<double>(wide.cases) * wide.latency_ms / 1000.0 / 64);
  const double cached_s = median_of(field(cached, &Run::wall_s));
  std::printf("\nTargets:\n\n");
  std::printf("- %s latency, concurrency 64 within 1.25x of ideal: %.2fx, %s\n", l.c_str(),
              wide_ratio, verdict(wide_ratio <= 1.25));
  std::printf("- 0 ms latency over 2,000 cases/s (--no-cache): %.0f cases/s (%.1fx the target), "
              "%s\n",
              zero_rate, zero_rate / 2000, verdict(zero_rate > 2000));
  std::printf("- cached rerun of %d cases under 1 s: %.2f s, %s\n", cached.cases, cached_s,
              verdict(cached_s < 1.0));
  std::printf("- peak memory under 100 MB: %.1f MB (highest of all runs), %s\n", peak_mb,
              verdict(peak_mb < 100));

  if (!g_memory.empty()) {
    fs::remove_all(g_memory);
  }
  if (o.keep.empty()) {
    fs::remove_all(dir);
  } else {
    std::fprintf(stderr, "kept the registry in %s\n", registry.c_str());
  }
  return 0;
}
