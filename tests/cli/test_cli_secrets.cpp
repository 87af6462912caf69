// Secrets: every command runs with sentinel API keys in the environment, on providers that
// work and providers that fail with a body quoting the key; no output, file, cache or report
// may hold the key afterwards (issue 8).
#include "tests/fake_provider/fake_provider.hpp"
#include "tests/support/background_process.hpp"
#include "tests/support/canned_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/file.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <set>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using promptops::fake::FakeProvider;
using promptops::test::BackgroundProcess;
using promptops::test::CannedServer;
using promptops::test::ProcessResult;
using promptops::test::run_command;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Every key holds this, so a key cut short still shows.
const std::string k_mark = "SENTINEL-7f3c";
const std::string k_openai_key = "sk-" + k_mark + "-openai-0123456789abcdef0123456789abcdef";
const std::string k_anthropic_key = "sk-ant-" + k_mark + "-anthropic-0123456789abcdef01234567";

// A file's bytes, "" when there is none.
std::string slurp(const fs::path& path) {
  return promptops::util::read_file_if_exists(path).value_or("");
}

// A provider's answer to every request: 401 with an OpenAI-shaped error body quoting the key
// it was sent, once near the start and once across the 300th character of the message (where
// promptops shortens error messages). Counts the requests that carried a key.
CannedServer::Reply refuse_quoting_key(const std::string& request, std::atomic<int>& keys_seen) {
  std::string key;
  for (const std::string& k : {k_openai_key, k_anthropic_key}) {
    if (request.find(k) != std::string::npos) {
      key = k;
    }
  }
  if (!key.empty()) {
    ++keys_seen;
  }
  // "invalid_request_error: " is 23 characters; the second copy starts 16 before 300.
  std::string message = "Incorrect API key provided: " + key + ".";
  message += std::string(300 - 23 - 16 - message.size(), '.');
  message += key + " is not valid.";
  return {
      401,
      nlohmann::json{{"error", {{"message", message}, {"type", "invalid_request_error"}}}}.dump()};
}

// One GET over a fresh connection: the whole response, or "" when none came.
std::string http_get(int port, const std::string& target) {
  return promptops::test::http_raw(
      port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

// Where the key was found ("" when nowhere): every file below `root` by its raw bytes.
std::string files_holding_key(const fs::path& root) {
  std::string found;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_regular_file() && !it->is_symlink() &&
        slurp(it->path()).find(k_mark) != std::string::npos) {
      found += it->path().string() + "\n";
    }
  }
  return found;
}

} // namespace

TEST_CASE("secrets: no command writes an API key anywhere, on success or failure",
          "[cli][secrets]") {
  TempDir dir;
  FakeProvider fake;
  std::atomic<int> keys_seen{0};
  CannedServer refusing(
      [&keys_seen](const std::string& request) { return refuse_quoting_key(request, keys_seen); });
  const fs::path reg = dir.path() / "reg";
  const fs::path cache = dir.path() / "cache";
  const fs::path reports = dir.path() / "reports";
  fs::create_directories(reports);
  const std::map<std::string, std::string> env = {{"XDG_CACHE_HOME", cache.string()},
                                                  {"SENTINEL_OPENAI_KEY", k_openai_key},
                                                  {"SENTINEL_ANTHROPIC_KEY", k_anthropic_key},
                                                  {"OPENAI_API_KEY", k_openai_key},
                                                  {"ANTHROPIC_API_KEY", k_anthropic_key},
                                                  {"GIT_AUTHOR_NAME", "Tester"},
                                                  {"GIT_AUTHOR_EMAIL", "tester@example.invalid"},
                                                  {"GIT_COMMITTER_NAME", "Tester"},
                                                  {"GIT_COMMITTER_EMAIL", "tester@example.invalid"},
                                                  {"GIT_CONFIG_NOSYSTEM", "1"},
                                                  {"HOME", dir.path().string()}};

  std::vector<std::pair<std::string, ProcessResult>> runs;
  auto po = [&](const std::vector<std::string>& args) {
    ProcessResult r = run_promptops(args, reg, env);
    std::string shown;
    for (const auto& a : args) {
      shown += a + " ";
    }
    runs.emplace_back(shown, r);
    return r;
  };
  auto expect = [&](const std::vector<std::string>& args, int code) {
    const ProcessResult r = po(args);
    INFO(runs.back().first << "\n" << r.out << r.err);
    CHECK(r.exit_code == code);
  };
  auto git = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"git"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_command(argv, reg, env);
    INFO("git " << args.at(0) << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
  };

  REQUIRE(run_promptops({"init", "reg"}, dir.path(), env).exit_code == 0);
  const std::string exec_sees_key =
      "cat >/dev/null; if [ ${#SENTINEL_OPENAI_KEY} -eq " + std::to_string(k_openai_key.size()) +
      " ]; then echo exec-saw-the-key; else echo exec-saw-nothing; fi";
  dir.write("reg/promptops.yaml",
            "version: 1\nenvironments: [staging, prod]\nprotected: [prod]\nproviders:\n"
            "  default:\n    type: echo\n"
            "  oai:\n    type: openai\n    base_url: " +
                fake.base_url() +
                "/v1\n    api_key_env: SENTINEL_OPENAI_KEY\n    model: m1\n    retries: 0\n"
                "  ant:\n    type: anthropic\n    base_url: " +
                fake.base_url() +
                "/v1\n    api_key_env: SENTINEL_ANTHROPIC_KEY\n    model: m2\n    retries: 0\n"
                "  ex:\n    type: exec\n    command: " +
                nlohmann::json(exec_sees_key).dump() +
                "\n  refusing:\n    type: openai\n    base_url: " + refusing.base_url() +
                "\n    api_key_env: SENTINEL_OPENAI_KEY\n    model: m3\n    retries: 0\n"
                "  refusing_ant:\n    type: anthropic\n    base_url: " +
                refusing.base_url() +
                "\n    api_key_env: SENTINEL_ANTHROPIC_KEY\n    model: m4\n    retries: 0\n");
  dir.write("reg/golden/ok.yaml",
            "candidates:\n  - {prompt: support/classify, provider: oai}\n"
            "  - {prompt: support/classify, provider: ant}\n"
            "  - {prompt: support/classify, provider: ex}\n"
            "cases: classify.jsonl\nevaluators:\n  - {type: not_contains, value: zzz}\n"
            "  - {type: exec, command: " +
                nlohmann::json("cat >/dev/null; echo '{\"pass\": true}'").dump() +
                "}\ngate: {min_pass_rate: 0.0}\n");
  dir.write("reg/golden/faults.yaml",
            "candidates:\n  - {prompt: support/classify, provider: oai}\n"
            "  - {prompt: support/classify, provider: refusing}\n"
            "  - {prompt: support/classify, provider: refusing_ant}\n"
            "cases: faults.jsonl\nevaluators:\n  - {type: not_contains, value: zzz}\n");
  dir.write("reg/golden/faults.jsonl",
            "{\"id\": \"f500\", \"vars\": {\"ticket\": \"[[fault: 500 x*]]\"}}\n"
            "{\"id\": \"fmal\", \"vars\": {\"ticket\": \"[[fault: malformed x*]]\"}}\n");
  git({"add", "-A"});
  git({"commit", "-q", "-m", "registry"});

  // Every command of `promptops --help`, on the registry, in an order that gives each one
  // something to work on.
  expect({"--help"}, 0);
  expect({"validate"}, 0);
  expect({"list"}, 0);
  expect({"list", "--json"}, 0);
  expect({"show", "support/classify", "--json"}, 0);
  expect({"render", "support/classify", "--var", "ticket=" + k_mark.substr(0, 3)}, 0);
  expect({"render", "summarize@HEAD", "--vars-file", "vars/summarize.json", "--json"}, 0);
  expect({"log", "support/classify"}, 0);
  // Each test run's id: the run folder that was not there before.
  std::set<std::string> seen;
  auto new_run = [&] {
    std::string id;
    for (const auto& e : fs::directory_iterator(reg / ".promptops" / "runs")) {
      if (seen.insert(e.path().filename().string()).second) {
        id = e.path().filename().string();
      }
    }
    return id;
  };
  expect({"test", "ok", "--json", "--junit", (reports / "a.xml").string(), "--markdown",
          (reports / "a.md").string(), "--html", (reports / "a.html").string()},
         0);
  const std::string full = new_run();
  expect({"test", "ok"}, 0); // from the cache
  new_run();
  expect({"test", "ok", "--no-cache", "--shard", "1/2"}, 0);
  const std::string shard1 = new_run();
  expect({"test", "ok", "--no-cache", "--shard", "2/2"}, 0);
  const std::string shard2 = new_run();
  const auto failing = po({"test", "faults", "--junit", (reports / "f.xml").string(), "--markdown",
                           (reports / "f.md").string(), "--html", (reports / "f.html").string()});
  CHECK(failing.exit_code == 3);
  CHECK_THAT(failing.out + failing.err, Catch::Contains("[redacted]"));
  const std::string faults = new_run();
  // The latest run is the failed one: the reports say so, whatever their exit code.
  po({"report"});
  po({"report", "--json"});
  po({"report", "--junit", (reports / "r.xml").string(), "--markdown", (reports / "r.md").string(),
      "--html", (reports / "r.html").string()});
  CHECK(fs::file_size(reports / "r.html") > 0);
  po({"report", full, "--against", faults});
  const auto merged = po({"merge", shard1, shard2});
  INFO(merged.err);
  CHECK(merged.exit_code == 0);
  expect({"baseline", "record", "ok"}, 0);
  expect({"baseline", "accept", "ok", "--from", full}, 0);
  git({"add", "-A"});
  git({"commit", "-q", "-m", "baselines"});
  expect({"promote", "support/classify", "summarize", "--to", "staging"}, 0);
  po({"promote", "support/classify", "--to", "prod", "--run"}); // refused: "faults" fails
  expect({"promote", "support/classify", "--to", "prod", "--force", "--reason", "test"}, 0);
  po({"rollback", "support/classify", "--env", "staging"}); // nothing earlier: refused
  expect({"env", "list"}, 0);
  expect({"env", "history", "prod", "--json"}, 0);
  expect({"diff", "support/classify@staging", "support/classify"}, 0);
  expect({"export", "--env", "prod", "-o", (reports / "bundle.json").string()}, 0);
  expect({"export", "--env", "prod"}, 0);
  run_command({"git", "init", "-q", "--bare", (dir.path() / "remote.git").string()}, dir.path(),
              env);
  git({"remote", "add", "origin", (dir.path() / "remote.git").string()});
  expect({"push"}, 0);
  expect({"pull"}, 0);
  expect({"cache", "stats"}, 0);
  {
    BackgroundProcess server({"serve", "--addr", "127.0.0.1:0"}, reg, env);
    const int port = promptops::test::listening_port(server.wait_for_stderr("listening on", 20s));
    REQUIRE(port > 0);
    std::string answers;
    for (const char* target : {"/healthz", "/v1/prompts?env=prod", "/v1/prompts/support/classify",
                               "/v1/prompts/support/classify?env=prod", "/v1/prompts/nope"}) {
      const std::string a = http_get(port, target);
      CHECK_THAT(a, Catch::StartsWith("HTTP/1.1 "));
      answers += a;
    }
    CHECK(answers.find(k_mark) == std::string::npos);
    server.send_signal(SIGTERM);
    CHECK(server.wait(20s) == 0);
    runs.emplace_back("serve", ProcessResult{0, server.out(), server.err()});
  }

  // Not vacuous: the keys were sent, and the exec provider saw its environment.
  bool bearer = false;
  bool x_api_key = false;
  for (const auto& r : fake.requests()) {
    bearer |= r.headers.count("authorization") != 0 &&
              r.headers.at("authorization") == "Bearer " + k_openai_key;
    x_api_key |= r.headers.count("x-api-key") != 0 && r.headers.at("x-api-key") == k_anthropic_key;
  }
  CHECK(bearer);
  CHECK(x_api_key);
  CHECK(keys_seen >= 2);
  CHECK(slurp(reg / ".promptops" / "runs" / full / "results.jsonl").find("exec-saw-the-key") !=
        std::string::npos);

  for (const auto& [command, r] : runs) {
    INFO(command << "\n" << r.out << r.err);
    CHECK(r.out.find(k_mark) == std::string::npos);
    CHECK(r.err.find(k_mark) == std::string::npos);
  }
  // Files: the registry (.promptops/ with runs, baselines, git's loose objects compressed),
  // the cache database with its -wal and -shm, and every report; and git's objects unpacked.
  std::uintmax_t cached_bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(cache)) {
    cached_bytes += e.is_regular_file() ? e.file_size() : 0;
  }
  CHECK(cached_bytes > 0); // the cache was written, so scanning it means something
  INFO("the cache was " << cache);
  CHECK(files_holding_key(dir.path()) == "");
  const auto objects = run_command({"git", "cat-file", "--batch-all-objects", "--batch"}, reg, env);
  REQUIRE(objects.exit_code == 0);
  CHECK(objects.out.size() > 1000);
  CHECK(objects.out.find(k_mark) == std::string::npos);
  const auto cleared = po({"cache", "clear"});
  CHECK(cleared.exit_code == 0);
  CHECK((cleared.out + cleared.err).find(k_mark) == std::string::npos);
  for (const auto& [command, r] : runs) {
    INFO(command);
    CHECK(r.exit_code < 128); // no crash
  }
}
