// Round two of the attacks (issue 18), the response cache and the run folder: a cache another
// user can write (planted replies turn a failing gate into a passing one), damaged entries,
// run ids that collide, and an interrupted run's gates.
#include "tests/fake_provider/fake_provider.hpp"
#include "tests/support/background_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/file.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <signal.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using nlohmann::json;
using promptops::fake::FakeProvider;
using promptops::fake::FakeProviderOptions;
using promptops::test::BackgroundProcess;
using promptops::test::run_command;
using promptops::test::run_promptops;
using promptops::test::run_promptops_together;
using promptops::test::TempDir;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A registry whose one suite ("s") asks the fake provider `questions`, passing when the reply
// starts with "echo: ". The cache is <dir>/xdg/promptops.
struct CacheRegistry {
  TempDir dir;
  fs::path root;
  std::map<std::string, std::string> env;

  CacheRegistry(const std::string& server, const std::vector<std::string>& questions) {
    const std::string base_url = server + "/v1";
    root = dir.path() / "reg";
    dir.write("reg/promptops.yaml", "version: 1\nproviders:\n  fake:\n    type: openai\n"
                                    "    base_url: " +
                                        base_url +
                                        "\n    api_key_env: PROMPTOPS_TEST_KEY\n"
                                        "    model: model-x\n    retries: 0\n");
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "input:\n  required: [question]\n");
    dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [fake]\ncases: s.jsonl\n"
                                   "evaluators:\n  - {type: starts_with, value: \"echo: \"}\n");
    std::string lines;
    for (std::size_t i = 0; i < questions.size(); ++i) {
      lines +=
          json({{"id", "c" + std::to_string(i)}, {"vars", {{"question", questions[i]}}}}).dump() +
          "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
    env = {{"XDG_CACHE_HOME", xdg().string()}, {"PROMPTOPS_TEST_KEY", "sk-test"}};
  }

  fs::path xdg() const { return dir.path() / "xdg"; }
  fs::path cache() const { return xdg() / "promptops"; }
  fs::path database() const { return cache() / "v2" / "replies.sqlite3"; }
  fs::path runs() const { return root / ".promptops" / "runs"; }
};

// The run ids under `runs`.
std::set<std::string> run_ids(const fs::path& runs) {
  std::set<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(runs, ec)) {
    ids.insert(e.path().filename().string());
  }
  return ids;
}

json summary_of(const fs::path& run) {
  return json::parse(promptops::util::read_file_if_exists(run / "summary.json").value_or(""),
                     nullptr, false);
}

std::string sqlite(const fs::path& db, const std::string& sql) {
  const auto r = run_command({"sqlite3", db.string(), sql}, db.parent_path());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

bool have_sqlite_cli() {
  return run_command({"sqlite3", "-version"}, fs::temp_directory_path()).exit_code == 0;
}

// Every file below `dir` with its size and modification time, to show nothing was written.
std::map<std::string, std::pair<std::uintmax_t, long long>> snapshot(const fs::path& dir) {
  std::map<std::string, std::pair<std::uintmax_t, long long>> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0) {
      out[it->path().string()] = {static_cast<std::uintmax_t>(st.st_size),
                                  static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL +
                                      st.st_mtim.tv_nsec};
    }
  }
  return out;
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

} // namespace

TEST_CASE("promptops test, neither HOME nor XDG_CACHE_HOME: the cache is off with a warning",
          "[attacks][cache]") {
  FakeProvider fake;
  CacheRegistry reg(fake.base_url(), {"one"});
  // The fixed folder of earlier builds, which another local user could make first.
  const fs::path shared =
      fs::temp_directory_path() / ("promptops-cache-" + std::to_string(::getuid()));
  const auto before = snapshot(shared);
  const bool existed = fs::exists(shared);
  std::map<std::string, std::string> env = reg.env;
  env["XDG_CACHE_HOME"] = "";
  env["HOME"] = "";

  const auto first = run_promptops({"test"}, reg.root, env);
  INFO(first.err);
  CHECK(first.exit_code == 0);
  CHECK_THAT(first.err, Catch::Contains("promptops: warning: neither HOME nor an absolute "
                                        "XDG_CACHE_HOME is set: the response cache is off\n"));
  const auto second = run_promptops({"test"}, reg.root, env);
  CHECK(second.exit_code == 0);
  CHECK(fake.request_count() == 2); // nothing was cached
  CHECK(fs::exists(shared) == existed);
  CHECK(snapshot(shared) == before);
  // A relative XDG_CACHE_HOME is ignored, as the XDG spec says: no cache in the registry either.
  env["XDG_CACHE_HOME"] = "relative";
  const auto third = run_promptops({"test"}, reg.root, env);
  CHECK(third.exit_code == 0);
  CHECK_THAT(third.err, Catch::Contains("the response cache is off"));
  CHECK_FALSE(fs::exists(reg.root / "relative"));

  SECTION("cache stats and cache clear say so") {
    const auto stats = run_promptops({"cache", "stats"}, reg.root, env);
    CHECK(stats.exit_code == 0);
    CHECK(stats.out == "cache: off (neither HOME nor an absolute XDG_CACHE_HOME is set)\n");
    const auto clear = run_promptops({"cache", "clear"}, reg.root, env);
    CHECK(clear.exit_code == 0);
    CHECK(clear.out == "nothing to clear: the response cache is off (neither HOME nor an "
                       "absolute XDG_CACHE_HOME is set)\n");
  }
}

TEST_CASE("promptops test, a cache folder others may write is refused before any request",
          "[attacks][cache]") {
  FakeProvider fake;
  CacheRegistry reg(fake.base_url(), {"one"});
  const std::string shown = "\"" + reg.cache().string() + "\"";
  // The whole message: what is wrong with the folder, and the fix.
  const auto refusal = [&shown](const std::string& problem) {
    return "promptops: error: the response cache " + shown + " " + problem +
           ", who could plant replies in it: remove it (promptops makes a private one) or set "
           "XDG_CACHE_HOME to a folder of your own\n";
  };
  fs::create_directories(reg.cache());

  SECTION("group-writable") {
    fs::permissions(reg.cache(), fs::perms(0770));
    const auto r = run_promptops({"test"}, reg.root, reg.env);
    CHECK(r.exit_code == 2);
    CHECK(r.err == refusal("is writable by other users (mode 0770)"));
  }
  SECTION("a planted database file others may write") {
    fs::permissions(reg.cache(), fs::perms(0700));
    REQUIRE(run_promptops({"test"}, reg.root, reg.env).exit_code == 0);
    fake.reset();
    fs::remove_all(reg.runs());
    fs::permissions(reg.database(), fs::perms(0666));
    const auto r = run_promptops({"test"}, reg.root, reg.env);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("\"" + reg.database().string() +
                                      "\" is writable by other users (mode 0666)"));
  }
  SECTION("owned by another user (as root: chowned to nobody)") {
    if (::geteuid() != 0) {
      WARN("not root: cannot give a folder to another user; the owner check is not tested");
      return;
    }
    fs::permissions(reg.cache(), fs::perms(0700));
    REQUIRE(::chown(reg.cache().c_str(), 65534, 65534) == 0);
    const auto r = run_promptops({"test"}, reg.root, reg.env);
    CHECK(r.exit_code == 2);
    CHECK(r.err == refusal("belongs to another user (uid 65534)"));
    const auto stats = run_promptops({"cache", "stats"}, reg.root, reg.env);
    CHECK(stats.exit_code == 2);
    CHECK_THAT(stats.err, Catch::Contains("belongs to another user"));
  }
  SECTION("a symbolic link planted as the folder") {
    fs::remove(reg.cache());
    fs::create_directories(reg.dir.path() / "elsewhere");
    fs::permissions(reg.dir.path() / "elsewhere", fs::perms(0700));
    fs::create_directory_symlink(reg.dir.path() / "elsewhere", reg.cache());
    const auto r = run_promptops({"test"}, reg.root, reg.env);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("the response cache " + shown + " is a symbolic link"));
    CHECK(fs::is_empty(reg.dir.path() / "elsewhere"));
  }
  CHECK(fake.request_count() == 0);
  CHECK_FALSE(fs::exists(reg.runs())); // refused before the run's folder was made
}

TEST_CASE("promptops test, the cache is made private, and one others may only read is closed",
          "[attacks][cache]") {
  FakeProvider fake;
  CacheRegistry reg(fake.base_url(), {"one"});
  SECTION("made by promptops: 0700") {
    const auto r = run_promptops({"test"}, reg.root, reg.env);
    INFO(r.err);
    CHECK(r.exit_code == 0);
  }
  SECTION("made readable by an older build: closed to 0700") {
    fs::create_directories(reg.cache());
    fs::permissions(reg.cache(), fs::perms(0755));
    const auto r = run_promptops({"test"}, reg.root, reg.env);
    INFO(r.err);
    CHECK(r.exit_code == 0);
  }
  CHECK(mode_of(reg.cache()) == 0700);
  CHECK(mode_of(reg.cache() / "v2") == 0700);
}

TEST_CASE("promptops test, a damaged cache entry is a miss and is replaced", "[attacks][cache]") {
  if (!have_sqlite_cli()) {
    WARN("no sqlite3 command: damaged entries are tested by the unit tests only");
    return;
  }
  FakeProvider fake;
  CacheRegistry reg(fake.base_url(), {"one"});
  REQUIRE(run_promptops({"test"}, reg.root, reg.env).exit_code == 0);
  REQUIRE(fake.request_count() == 1);
  std::string damaged;
  SECTION("latency_ms null") {
    damaged = R"({"output":"planted: wrong","model":"m","system_fingerprint":"",)"
              R"("latency_ms":null,"usage":{}})";
  }
  SECTION("not an object") {
    damaged = R"(["echo: one"])";
  }
  SECTION("output not a string") {
    damaged = R"({"output":42,"latency_ms":1})";
  }
  SECTION("negative token counts") {
    damaged = R"({"output":"echo: one","latency_ms":1,"usage":{"input_tokens":-1000000000}})";
  }
  SECTION("a tool call that is not an object") {
    damaged = R"({"output":"echo: one","latency_ms":1,"tool_calls":[7]})";
  }
  sqlite(reg.database(), "UPDATE replies SET entry = '" + damaged + "'");

  const auto r = run_promptops({"test"}, reg.root, reg.env);
  INFO(r.err);
  CHECK(r.exit_code == 0); // as if uncached: asked again, and it passes
  CHECK(fake.request_count() == 2);
  const std::string entries = sqlite(reg.database(), "SELECT entry FROM replies");
  CHECK(entries.find(damaged) == std::string::npos);
  const json entry = json::parse(entries, nullptr, false);
  REQUIRE(entry.is_object());
  CHECK(entry["output"] == "echo: one");
  CHECK(entry["latency_ms"].is_number());
  // Taken from the cache now.
  CHECK(run_promptops({"test"}, reg.root, reg.env).exit_code == 0);
  CHECK(fake.request_count() == 2);
}

TEST_CASE("promptops test, runs started in the same second get their own ids and folders",
          "[attacks][runs]") {
  FakeProvider fake;
  CacheRegistry reg(fake.base_url(), {"one"});
  std::map<std::string, std::string> env = reg.env;
  constexpr int k_runs = 6;
  const auto results = run_promptops_together(
      std::vector<std::vector<std::string>>(k_runs, {"test", "--no-cache"}), reg.root, env);
  for (const auto& r : results) {
    INFO(r.err);
    CHECK(r.exit_code == 0);
  }
  const auto ids = run_ids(reg.runs());
  CHECK(ids.size() == static_cast<std::size_t>(k_runs));
  for (const std::string& id : ids) {
    INFO(id);
    // YYYYMMDD-HHMMSS- and 64 random bits: sortable by time, and never the same twice.
    CHECK(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789-abcdef") == std::string::npos);
    const std::string text =
        promptops::util::read_file_if_exists(reg.runs() / id / "results.jsonl").value_or("");
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK(summary_of(reg.runs() / id)["run_id"] == id);
  }
}

TEST_CASE("promptops test, interrupted before any case ended: the suite's gate did not pass",
          "[attacks][runs]") {
  FakeProvider fake({.latency_ms = 20000});
  CacheRegistry reg(fake.base_url(), {"one"});
  BackgroundProcess p({"test", "--json"}, reg.root, reg.env);
  for (auto until = std::chrono::steady_clock::now() + 10s;
       fake.request_count() == 0 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(fake.request_count() == 1);
  p.send_signal(SIGINT);
  CHECK(p.wait(10s) == 3);
  const auto ids = run_ids(reg.runs());
  REQUIRE(ids.size() == 1);
  const json summary = summary_of(reg.runs() / *ids.begin());
  REQUIRE(summary.is_object());
  CHECK(summary["interrupted"] == true);
  CHECK(summary["gate"]["passed"] == false);
  REQUIRE(summary["suites"].size() == 1);
  const json& suite = summary["suites"][0];
  CHECK(suite["totals"]["cases"] == 0);
  CHECK(suite["gate"]["passed"] == false);
  CHECK(suite["gate"]["reasons"] == json::array({"s: no case ran, so nothing shows it passes"}));
}
