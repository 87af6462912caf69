// Crash survival and faults under load (issue 8): runs killed with SIGKILL at random moments
// and resumed, promote killed mid-way, the response cache after kills, and 10,000 cases
// against the fake provider failing about 30% of requests.
#include "tests/fake_provider/fake_provider.hpp"
#include "tests/support/background_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/file.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <signal.h>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using promptops::fake::FakeProvider;
using promptops::fake::FakeProviderOptions;
using promptops::test::BackgroundProcess;
using promptops::test::run_command;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A file's bytes, "" when there is none.
std::string slurp(const fs::path& path) {
  return promptops::util::read_file_if_exists(path).value_or("");
}

// A registry with one prompt ("ask": {{question}} as the user message) and one suite ("s")
// whose cases c0, c1, ... ask `questions` of provider "fake" (openai), passing when the
// reply starts with "echo: ".
struct Registry {
  TempDir dir;
  fs::path root;
  std::map<std::string, std::string> env;

  Registry(const std::string& base_url, const std::vector<std::string>& questions,
           const std::string& provider_extra) {
    root = dir.path() / "reg";
    dir.write("reg/promptops.yaml", "version: 1\nproviders:\n  fake:\n    type: openai\n"
                                    "    base_url: " +
                                        base_url +
                                        "\n    api_key_env: PROMPTOPS_TEST_KEY\n"
                                        "    model: model-x\n" +
                                        provider_extra);
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "input:\n  required: [question]\n");
    dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [fake]\ncases: s.jsonl\n"
                                   "evaluators:\n  - {type: starts_with, value: \"echo: \"}\n"
                                   "gate: {min_pass_rate: 0}\n");
    std::string lines;
    for (std::size_t i = 0; i < questions.size(); ++i) {
      lines +=
          json({{"id", "c" + std::to_string(i)}, {"vars", {{"question", questions[i]}}}}).dump() +
          "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
    env = {{"XDG_CACHE_HOME", (dir.path() / "cache").string()},
           {"PROMPTOPS_TEST_KEY", "sk-test"},
           {"NO_COLOR", ""}};
  }

  fs::path runs() const { return root / ".promptops" / "runs"; }
};

// results.jsonl parsed strictly: it ends with a newline and every line is a JSON object.
std::vector<json> strict_results(const fs::path& file) {
  const std::string text = slurp(file);
  REQUIRE_FALSE(text.empty());
  REQUIRE(text.back() == '\n');
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    INFO("line " << n << ": " << line.substr(0, 200));
    const json j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    out.push_back(j);
  }
  return out;
}

// The ids of the whole lines of a results file (a last line cut short is not counted).
std::set<std::string> ids_written(const fs::path& file) {
  std::set<std::string> ids;
  std::istringstream in(slurp(file));
  std::string line;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("id")) {
      ids.insert(j["id"].get<std::string>());
    }
  }
  return ids;
}

// Newlines in a file that only grows (or is cut back to a line boundary by a resume), read
// from where the last call stopped, so that polling a big file stays cheap.
class LineCounter {
public:
  std::size_t count(const fs::path& file) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) {
      return 0;
    }
    if (size < m_offset || file != m_file) {
      m_offset = 0;
      m_lines = 0;
      m_file = file;
    }
    std::ifstream in(file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(m_offset));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    m_offset += chunk.size();
    for (const char c : chunk) {
      m_lines += c == '\n' ? 1 : 0;
    }
    return m_lines;
  }

private:
  fs::path m_file;
  std::uintmax_t m_offset = 0;
  std::size_t m_lines = 0;
};

// The folders under runs/ that hold a run.json (a run killed before writing it has none).
std::vector<fs::path> recorded_runs(const fs::path& runs) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(runs, ec), end; !ec && it != end; it.increment(ec)) {
    if (fs::exists(it->path() / "run.json")) {
      out.push_back(it->path());
    }
  }
  return out;
}

// The case number in a request's last message ("case-17 ..." is 17), or -1.
int case_of_request(const std::string& body, const std::string& marker) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("messages") || j["messages"].empty()) {
    return -1;
  }
  const std::string text = j["messages"].back().value("content", "");
  const auto at = text.find(marker);
  if (at == std::string::npos) {
    return -1;
  }
  return std::stoi(text.substr(at + marker.size()));
}

std::string git(const fs::path& repo, const std::vector<std::string>& args, int* code = nullptr) {
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run_command(argv, repo);
  if (code != nullptr) {
    *code = r.exit_code;
  } else {
    INFO("git " << args.front() << ": " << r.err);
    REQUIRE(r.exit_code == 0);
  }
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

} // namespace

TEST_CASE("survival: a run killed with SIGKILL at random moments and resumed each time ends "
          "with every case exactly once",
          "[cli][survival]") {
  constexpr std::size_t n = 300;
  constexpr int kills = 30;
  FakeProviderOptions o;
  o.latency_ms = 10;
  FakeProvider server(o);
  std::vector<std::string> questions;
  for (std::size_t i = 0; i < n; ++i) {
    questions.push_back("case-" + std::to_string(i) + " please answer");
  }
  Registry reg(server.base_url() + "/v1", questions, "    concurrency: 4\n    retries: 0\n");
  std::mt19937 rng(20261126);
  std::string run_id;
  // At each kill: the requests the server had received, and the cases written by then.
  std::vector<std::pair<std::size_t, std::set<std::string>>> kill_points;
  int ended_by_itself = 0;
  int mid_run = 0; // kills that found cases still to write
  const auto results_file = [&]() -> fs::path {
    if (!run_id.empty()) {
      return reg.runs() / run_id / "results.jsonl";
    }
    const auto runs = recorded_runs(reg.runs());
    return runs.empty() ? fs::path() : runs.front() / "results.jsonl";
  };
  LineCounter lines;
  for (int k = 0; k < kills; ++k) {
    std::vector<std::string> args = {"test"};
    if (!run_id.empty()) {
      args.insert(args.end(), {"--resume", run_id});
    }
    const std::size_t before = run_id.empty() ? 0 : lines.count(results_file());
    BackgroundProcess p(args, reg.root, reg.env);
    const unsigned mode = static_cast<unsigned>(rng() % 10);
    const auto wait_for_lines = [&](std::size_t target) {
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      while (p.running() && std::chrono::steady_clock::now() < deadline) {
        const fs::path file = results_file();
        if (!file.empty() && lines.count(file) >= target) {
          return;
        }
        std::this_thread::sleep_for(2ms);
      }
    };
    if (mode < 3) {
      // Start-up: loading the registry, planning, opening the cache, writing run.json.
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
    } else if (mode < 8 || k < kills / 2) {
      wait_for_lines(before + 1 + rng() % (n / 10));
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    } else {
      // Every case written: the summary is being made and written.
      wait_for_lines(n);
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    }
    p.send_signal(SIGKILL);
    const int code = p.wait(20s);
    INFO("kill " << k << " (mode " << mode << "): " << p.err());
    CHECK((code == 128 + SIGKILL || code == 0));
    ended_by_itself += code == 0 ? 1 : 0;
    if (run_id.empty()) {
      const auto runs = recorded_runs(reg.runs());
      CHECK(runs.size() <= 1);
      if (!runs.empty()) {
        run_id = runs.front().filename().string();
      }
    }
    kill_points.emplace_back(server.request_count(), run_id.empty() ? std::set<std::string>()
                                                                    : ids_written(results_file()));
    mid_run += kill_points.back().second.size() < n ? 1 : 0;
  }
  REQUIRE_FALSE(run_id.empty());
  const auto last = run_promptops({"test", "--resume", run_id}, reg.root, reg.env);
  INFO(last.out << last.err);
  CHECK(last.exit_code == 0);
  WARN(mid_run << " of " << kills << " kills left cases to write; " << ended_by_itself
               << " runs ended before their kill");
  CHECK(mid_run >= kills / 2);

  // Only this run has a record; a run killed before its run.json left at most a folder.
  CHECK(recorded_runs(reg.runs()).size() == 1);
  const fs::path run = reg.runs() / run_id;
  const auto results = strict_results(run / "results.jsonl");
  CHECK(results.size() == n);
  std::map<std::string, int> seen;
  std::size_t pass = 0;
  for (const auto& r : results) {
    ++seen[r["id"].get<std::string>()];
    pass += r["status"] == "pass" ? 1 : 0;
  }
  CHECK(seen.size() == n);
  for (std::size_t i = 0; i < n; ++i) {
    INFO("c" << i);
    CHECK(seen["c" + std::to_string(i)] == 1);
  }
  const json summary = json::parse(slurp(run / "summary.json"));
  CHECK(summary["totals"]["cases"] == n);
  CHECK(summary["totals"]["pass"] == pass);
  CHECK(summary["totals"]["fail"] == 0);
  CHECK(summary["totals"]["error"] == 0);
  CHECK(pass == n);
  CHECK(summary["interrupted"] == false);

  // Every case was asked, and a case once written was never asked again.
  const auto requests = server.requests();
  CHECK(requests.size() >= n);
  std::set<int> asked;
  for (std::size_t at = 0; at < requests.size(); ++at) {
    const int c = case_of_request(requests[at].body, "case-");
    REQUIRE(c >= 0);
    asked.insert(c);
    for (const auto& [count, done] : kill_points) {
      if (at >= count) {
        INFO("request " << at << " asks case c" << c << ", written before a kill");
        CHECK(done.count("c" + std::to_string(c)) == 0);
      }
    }
  }
  CHECK(asked.size() == n);
  // Resuming the finished run asks nothing and writes nothing.
  CHECK(run_promptops({"test", "--resume", run_id}, reg.root, reg.env).exit_code == 0);
  CHECK(server.request_count() == requests.size());
  CHECK(strict_results(run / "results.jsonl").size() == n);
}

TEST_CASE("survival: promote killed with SIGKILL at random moments leaves the environment at "
          "its old or new commit",
          "[cli][survival][registry]") {
  constexpr int prompts = 120;
  constexpr int kills = 20;
  TempDir dir;
  const fs::path repo = dir.path();
  dir.write("promptops.yaml", "version: 1\nenvironments: [staging, prod]\n"
                              "providers:\n  default: {type: echo}\n");
  git(repo, {"init", "-q", "-b", "main"});
  git(repo, {"config", "user.name", "Survival Test"});
  git(repo, {"config", "user.email", "survival@example.com"});
  std::vector<std::string> names;
  for (int i = 0; i < prompts; ++i) {
    names.push_back("p" + std::to_string(i));
  }
  // Commit version `v` of every prompt; promote them all together.
  const auto commit_version = [&](int v) {
    for (const auto& name : names) {
      dir.write("prompts/" + name + ".yaml",
                "template: \"" + name + " at version " + std::to_string(v) + "\"\n");
    }
    git(repo, {"add", "-A"});
    git(repo, {"commit", "-q", "-m", "version " + std::to_string(v)});
  };
  std::vector<std::string> promote = {"promote"};
  promote.insert(promote.end(), names.begin(), names.end());
  promote.insert(promote.end(), {"--to", "staging"});
  const std::string ref = "refs/heads/promptops/env/staging";
  const auto tip = [&] {
    int code = 0;
    const std::string out = git(repo, {"rev-parse", "-q", "--verify", ref}, &code);
    return code == 0 ? out : std::string();
  };
  // The version every prompt has on staging: all the same, or the test fails.
  const auto staged_version = [&]() -> int {
    const auto r = run_promptops({"export", "--env", "staging"}, repo);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const json bundle = json::parse(r.out);
    REQUIRE(bundle["prompts"].size() == static_cast<std::size_t>(prompts));
    std::set<int> versions;
    for (const auto& [name, p] : bundle["prompts"].items()) {
      const std::string text = p.dump();
      const auto at = text.find(" at version ");
      REQUIRE(at != std::string::npos);
      versions.insert(std::stoi(text.substr(at + 12)));
    }
    REQUIRE(versions.size() == 1);
    return *versions.begin();
  };

  // How long one whole promotion takes here, to spread the kills over it.
  commit_version(0);
  const auto started = std::chrono::steady_clock::now();
  auto r = run_promptops(promote, repo);
  const auto whole = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(staged_version() == 0);

  std::mt19937 rng(8);
  // The kills land at random within `span`, which follows the machine's speed: longer after a
  // kill that came before the branch moved, shorter after a promotion that ended first.
  double span_us = 1.25 * static_cast<double>(whole.count()) + 1;
  int unmoved = 0;
  int moved_then_killed = 0;
  int ended = 0;
  int locks_left = 0;
  const fs::path lock = repo / ".git" / "refs" / "heads" / "promptops" / "env" / "staging.lock";
  int old_version = 0;
  for (int k = 1; k <= kills; ++k) {
    commit_version(k);
    const std::string old_tip = tip();
    int code = 0;
    {
      BackgroundProcess p(promote, repo);
      std::this_thread::sleep_for(
          std::chrono::microseconds(rng() % static_cast<std::uint64_t>(span_us)));
      p.send_signal(SIGKILL);
      code = p.wait(20s);
    }
    INFO("kill " << k);
    CHECK((code == 128 + SIGKILL || code == 0));
    const std::string new_tip = tip();
    REQUIRE_FALSE(new_tip.empty());
    const int version = staged_version();
    if (new_tip == old_tip) {
      CHECK(version == old_version);
      CHECK(code != 0);
      ++unmoved;
      span_us *= 1.3;
    } else {
      // One commit on top of the old tip, holding every prompt at the new version.
      CHECK(git(repo, {"rev-parse", new_tip + "^"}) == old_tip);
      CHECK(version == k);
      moved_then_killed += code != 0 ? 1 : 0;
      ended += code == 0 ? 1 : 0;
      span_us *= code == 0 ? 0.8 : 1.0;
    }
    const auto history = run_promptops({"env", "history", "staging"}, repo);
    INFO(history.err);
    CHECK(history.exit_code == 0);
    const auto rendered = run_promptops({"render", "p0@staging"}, repo);
    CHECK(rendered.exit_code == 0);
    CHECK(rendered.out == "p0 at version " + std::to_string(version));
    old_version = version;
    int fsck_code = 0;
    const std::string fsck =
        git(repo, {"fsck", "--no-progress", "--no-dangling", "--full"}, &fsck_code);
    INFO(fsck);
    CHECK(fsck_code == 0);
    if (fs::exists(lock)) {
      // Killed while it held the branch's lock (between taking it and renaming it over the
      // ref): like git, promptops leaves a lock alone, and says which file to remove.
      ++locks_left;
      CHECK(new_tip == old_tip);
      const auto refused = run_promptops(promote, repo);
      CHECK(refused.exit_code == 3);
      CHECK_THAT(refused.err, Catch::Contains("is locked by " + lock.string()));
      CHECK(tip() == old_tip);
      fs::remove(lock);
    }
  }
  WARN("promote: " << whole.count() / 1000 << " ms whole; of " << kills << " kills, " << unmoved
                   << " came before the branch moved, " << moved_then_killed
                   << " after it moved but before the exit, " << ended << " after the exit; "
                   << locks_left << " left the branch's lock");
  // Nothing else a kill left behind stops the next promotion.
  r = run_promptops(promote, repo);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(staged_version() == kills);
  int fsck_code = 0;
  git(repo, {"fsck", "--no-progress", "--no-dangling", "--full"}, &fsck_code);
  CHECK(fsck_code == 0);

  // The lock such a kill leaves, made here since the loop seldom hits that window: the
  // environment still reads at its old commit, and promote names the file instead of calling
  // it a race that a rerun wins.
  const std::string before = tip();
  commit_version(kills + 1);
  dir.write(".git/refs/heads/promptops/env/staging.lock", "");
  r = run_promptops(promote, repo);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("is locked by ") && Catch::Contains("staging.lock") &&
                        Catch::Contains("remove that file"));
  CHECK(tip() == before);
  CHECK(staged_version() == kills);
  CHECK(run_promptops({"env", "history", "staging"}, repo).exit_code == 0);
  fs::remove(lock);
  r = run_promptops(promote, repo);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(staged_version() == kills + 1);
}

TEST_CASE("survival: runs killed while caching replies, then a cached rerun gives a fresh "
          "run's outputs",
          "[cli][survival][cache]") {
  constexpr std::size_t n = 400;
  FakeProviderOptions o;
  o.latency_ms = 20; // a whole run takes about a second: the kills land while replies arrive
  FakeProvider server(o);
  std::vector<std::string> questions;
  std::mt19937 rng(77);
  for (std::size_t i = 0; i < n; ++i) {
    // Replies of different lengths, so that an entry mixed up with another shows.
    questions.push_back("cache-" + std::to_string(i) + " " +
                        std::string(rng() % 300, 'a' + i % 26));
  }
  Registry reg(server.base_url() + "/v1", questions, "    concurrency: 8\n    retries: 0\n");
  LineCounter lines;
  int killed = 0;
  for (int k = 0; k < 8; ++k) {
    std::optional<BackgroundProcess> p;
    p.emplace(std::vector<std::string>{"test"}, reg.root, reg.env);
    if (k % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    } else {
      // Kill after a random share of the cases are written.
      const std::size_t target = rng() % n;
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      const std::size_t runs_before = recorded_runs(reg.runs()).size();
      while (p->running() && std::chrono::steady_clock::now() < deadline) {
        const auto runs = recorded_runs(reg.runs());
        if (runs.size() > runs_before) {
          fs::path newest;
          for (const auto& r : runs) {
            newest = std::max(newest, r);
          }
          if (lines.count(newest / "results.jsonl") >= target) {
            break;
          }
        }
        std::this_thread::sleep_for(2ms);
      }
    }
    p->send_signal(SIGKILL);
    const int code = p->wait(20s);
    CHECK((code == 128 + SIGKILL || code == 0));
    killed += code == 128 + SIGKILL ? 1 : 0;
  }
  const auto stats = run_promptops({"cache", "stats"}, reg.root, reg.env);
  INFO(stats.err);
  CHECK(stats.exit_code == 0);

  const auto cached = run_promptops({"test", "--json"}, reg.root, reg.env);
  INFO(cached.err);
  REQUIRE(cached.exit_code == 0);
  auto fresh_env = reg.env;
  fresh_env["XDG_CACHE_HOME"] = (reg.dir.path() / "fresh-cache").string();
  const auto fresh = run_promptops({"test", "--json", "--no-cache"}, reg.root, fresh_env);
  INFO(fresh.err);
  REQUIRE(fresh.exit_code == 0);
  const auto lines_of = [&](const std::string& out) {
    const std::string id = json::parse(out)["run_id"];
    std::map<std::string, json> by_id;
    for (auto& r : strict_results(reg.runs() / id / "results.jsonl")) {
      by_id[r["id"].get<std::string>()] = r;
    }
    return by_id;
  };
  const auto a = lines_of(cached.out);
  const auto b = lines_of(fresh.out);
  REQUIRE(a.size() == n);
  REQUIRE(b.size() == n);
  std::size_t from_cache = 0;
  for (const auto& [id, line] : a) {
    INFO(id);
    CHECK(line["status"] == "pass");
    if (line["cached"] == true) {
      ++from_cache;
      CHECK(line["output"] == b.at(id)["output"]);
      CHECK(line["usage"] == b.at(id)["usage"]);
    }
  }
  WARN(killed << " of 8 runs killed before they ended; " << from_cache << " of " << n
              << " cases then taken from the cache they left");
  CHECK(from_cache > 0);
}

TEST_CASE("survival: 10000 cases against a provider failing 30% of requests: every failure "
          "retried or an error, and the numbers add up",
          "[cli][survival][faults]") {
  constexpr std::size_t n = 10000;
  constexpr int retries = 2;
  FakeProvider server;
  enum class Planted { pass, fail, error };
  std::vector<std::string> questions;
  std::vector<Planted> planted;
  std::vector<int> faults; // the faults a case meets before its answer (retries + 1: never)
  std::mt19937 rng(30);
  // The fault and its options, which follow the count.
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"500", ""},       {"503", ""},       {"429", " retry-after-ms=20"},
      {"malformed", ""}, {"truncated", ""}, {"drop", ""}};
  std::size_t faulty = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::string q = "load-" + std::to_string(i);
    const bool bad_content = rng() % 20 == 0;
    if (bad_content) {
      q += " [[reply: not an echo]]";
    }
    int count = 0;
    if (rng() % 100 < 30) {
      ++faulty;
      auto kind = kinds[rng() % kinds.size()];
      const unsigned rare = static_cast<unsigned>(rng() % 200);
      if (rare == 0) {
        kind = {"hang", ""}; // each costs a timeout per attempt: a few only
      } else if (rare == 1) {
        kind = {"429", " retry-after=1"};
      }
      unsigned c = static_cast<unsigned>(rng() % 3);
      if (kind.first == "drop") {
        // Only x*: the fake cannot count a drop whose resend libcurl sends on another kept-alive
        // connection (up to 5 times, unseen by the client), so xN would fault more than N
        // times with many connections open.
        c = 2;
      }
      count = c == 2 ? retries + 1 : static_cast<int>(c) + 1;
      q += " [[fault: " + kind.first + (c == 2 ? " x*" : " x" + std::to_string(count)) +
           kind.second + "]]";
    }
    questions.push_back(q);
    faults.push_back(count);
    planted.push_back(count > retries ? Planted::error
                      : bad_content   ? Planted::fail
                                      : Planted::pass);
  }
  Registry reg(server.base_url() + "/v1", questions,
               "    concurrency: 64\n    retries: " + std::to_string(retries) +
                   "\n    timeout_s: 1.5\n");
  const auto started = std::chrono::steady_clock::now();
  const auto r = run_promptops({"test", "--json"}, reg.root, reg.env);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.err.substr(0, 2000));
  CHECK(r.exit_code == 3);
  const json out = json::parse(r.out);
  const std::string id = out["run_id"];
  const auto results = strict_results(reg.runs() / id / "results.jsonl");
  const json summary = json::parse(slurp(reg.runs() / id / "summary.json"));
  REQUIRE(results.size() == n);
  std::map<std::string, int> seen;
  std::size_t pass = 0;
  std::size_t fail = 0;
  std::size_t error = 0;
  std::size_t attempts = 0;
  std::size_t wrong = 0;
  // The requests the server received for each case.
  const auto requests = server.requests();
  std::vector<std::size_t> arrivals(n, 0);
  for (const auto& request : requests) {
    const int c = case_of_request(request.body, "load-");
    REQUIRE(c >= 0);
    REQUIRE(static_cast<std::size_t>(c) < n);
    ++arrivals[static_cast<std::size_t>(c)];
  }
  for (const auto& line : results) {
    const std::string case_id = line["id"];
    ++seen[case_id];
    const std::size_t i = std::stoul(case_id.substr(1));
    REQUIRE(i < n);
    const std::string status = line["status"];
    pass += status == "pass" ? 1 : 0;
    fail += status == "fail" ? 1 : 0;
    error += status == "error" ? 1 : 0;
    const int tries = line["attempts"].get<int>();
    attempts += static_cast<std::size_t>(tries);
    // Each attempt is one request, but libcurl resends a request dropped on a kept-alive
    // connection, unseen, up to 5 times.
    const bool dropped = questions[i].find("fault: drop") != std::string::npos;
    const auto sent = static_cast<std::size_t>(tries);
    if (dropped ? arrivals[i] < sent || arrivals[i] > 6 * sent : arrivals[i] != sent) {
      ++wrong;
      INFO(case_id << ": " << questions[i] << ": " << arrivals[i] << " requests received, " << sent
                   << " attempts");
      CHECK(arrivals[i] == sent);
    }
    const std::string expected = planted[i] == Planted::pass   ? "pass"
                                 : planted[i] == Planted::fail ? "fail"
                                                               : "error";
    // A case faulting fewer times than the retries allow is answered after exactly that many
    // faults; a spurious timeout under load may add one, never fewer.
    const bool ok = status == expected &&
                    (planted[i] == Planted::error ? tries == retries + 1 : tries >= faults[i] + 1);
    if (!ok && wrong++ < 10) {
      INFO(case_id << ": " << questions[i] << " -> " << line.dump().substr(0, 400));
      CHECK(status == expected);
      CHECK(tries >= faults[i] + 1);
    }
    CHECK((status == "error" || line["cached"] == false));
  }
  CHECK(wrong == 0);
  CHECK(seen.size() == n);
  CHECK(pass + fail + error == n);
  CHECK(summary["totals"]["cases"] == n);
  CHECK(summary["totals"]["pass"] == pass);
  CHECK(summary["totals"]["fail"] == fail);
  CHECK(summary["totals"]["error"] == error);
  CHECK(summary["requests"] == attempts);
  const std::size_t received = requests.size();
  CHECK(received >= attempts);
  CHECK(summary["gate"]["passed"] == false);
  WARN(n << " cases, " << faulty << " faulty, " << attempts << " attempts, " << received
         << " requests received, " << error << " errors, in " << seconds << " s");
}
