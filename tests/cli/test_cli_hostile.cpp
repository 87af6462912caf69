// Hostile input: names that try to leave the registry, symlinks out of it, enormous files,
// invalid UTF-8, alias bombs, deep JSON, malformed HTTP and slow clients. Each must end in a
// clear error (exit 2 naming the file) or a bounded, correct answer: never a crash, a hang or
// unbounded memory (issue 8).
#include "tests/support/background_process.hpp"
#include "tests/support/canned_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using promptops::test::BackgroundProcess;
using promptops::test::CannedServer;
using promptops::test::http_raw;
using promptops::test::listening_port;
using promptops::test::ProcessResult;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct Bounded {
  int exit_code = -1; // 128 + signal when killed
  std::string out;
  std::string err;
  std::size_t peak_rss_mb = 0;
  bool over_memory = false;
  bool over_time = false;
};

std::size_t rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  in >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) >> 20;
}

// Run promptops, killing it when it passes `memory_mb` of resident memory or 60 s (a hang):
// the machine is shared, so a test must not let a blow-up run its course.
Bounded run_bounded(const std::vector<std::string>& args, const fs::path& cwd,
                    std::size_t memory_mb = 1024) {
  BackgroundProcess p(args, cwd);
  Bounded b;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (p.running()) {
    b.peak_rss_mb = std::max(b.peak_rss_mb, rss_mb(p.pid()));
    if (b.peak_rss_mb > memory_mb) {
      b.over_memory = true;
      p.send_signal(SIGKILL);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      b.over_time = true;
      p.send_signal(SIGKILL);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  b.exit_code = p.wait(20s);
  b.out = p.out();
  b.err = p.err();
  return b;
}

// Exit 2 with one "promptops: error: ..." message that contains `text`, in bounds.
void check_input_error(const Bounded& r, const std::string& text) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err << "\npeak RSS " << r.peak_rss_mb << " MB");
  CHECK_FALSE(r.over_memory);
  CHECK_FALSE(r.over_time);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("promptops: error: "));
  CHECK_THAT(r.err, Catch::Contains(text));
}

// The example registry (init, no git) in a fresh folder.
struct Registry {
  TempDir dir;
  fs::path root;
  Registry() {
    if (run_promptops({"init", "reg", "--no-git"}, dir.path()).exit_code != 0) {
      throw std::runtime_error("promptops init failed");
    }
    root = dir.path() / "reg";
  }
  void write(const std::string& relative, const std::string& content) const {
    dir.write("reg/" + relative, content);
  }
  Bounded run(const std::vector<std::string>& args, std::size_t memory_mb = 1024) const {
    return run_bounded(args, root, memory_mb);
  }
  // An exec provider "ex" that prints `reply` (through a file, so any bytes go) and a suite
  // "x" on it with `evaluators`.
  void exec_suite(const std::string& reply, const std::string& evaluators) const {
    write("reply.bin", reply);
    write("promptops.yaml", "version: 1\nproviders:\n  default:\n    type: echo\n"
                            "  ex:\n    type: exec\n    command: [cat, " +
                                (root / "reply.bin").string() + "]\n    retries: 0\n");
    write("golden/x.yaml", "prompt: support/classify\nproviders: [ex]\ncases: x.jsonl\n"
                           "evaluators:\n" +
                               evaluators + "gate: {min_pass_rate: 0.0}\n");
    write("golden/x.jsonl", "{\"id\": \"a\", \"vars\": {\"ticket\": \"t\"}}\n");
  }
};

// A billion-laughs document: ten levels of ten aliases each of a 4 kB string (40 TB when
// expanded; the first million values alone, 4 GB), under `key`.
std::string alias_bomb(const std::string& key) {
  std::string y = key + ":\n  l0: &l0 \"" + std::string(4000, 'a') + "\"\n";
  for (int level = 1; level <= 10; ++level) {
    y += "  l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) {
      y += std::string(i == 0 ? "" : ", ") + "*l" + std::to_string(level - 1);
    }
    y += "]\n";
  }
  return y;
}

std::string nested_json(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

} // namespace

TEST_CASE("hostile: names that try to leave the registry are refused", "[cli][hostile]") {
  Registry r;
  for (const std::string name : {"../../etc/passwd", "/etc/passwd", "support/../../x",
                                 "..\\..\\etc\\passwd", "%2e%2e/%2e%2e/etc/passwd", "a//b"}) {
    INFO(name);
    check_input_error(r.run({"render", name}), "invalid prompt name \"" + name + "\"");
    check_input_error(r.run({"show", name}), "invalid prompt name");
    check_input_error(r.run({"promote", name, "--to", "staging"}), "invalid prompt name");
  }
  for (const std::string suite : {"../../etc/passwd", "/etc/passwd", "..%2f..%2fx"}) {
    INFO(suite);
    const auto t = r.run({"test", suite});
    check_input_error(t, "unknown suite \"" + suite + "\"");
    CHECK(t.err.find("root:") == std::string::npos);
  }
  // A partial, an output schema and a cases file that point out of the registry.
  r.write("prompts/evil.yaml", "template: \"{{> ../../../../../../etc/passwd}}\"\n");
  check_input_error(r.run({"render", "evil"}), "invalid partial name \"../../../../../../etc");
  r.write("prompts/evil.yaml", "template: \"{{> /etc/passwd}}\"\n");
  check_input_error(r.run({"render", "evil"}), "invalid partial name \"/etc/passwd\"");
  r.write("prompts/evil.yaml", "template: hi\noutput_schema: ../../../../../../etc/passwd\n");
  check_input_error(r.run({"render", "evil"}), "must be a path inside the registry");
  r.write("golden/evil.yaml", "prompt: support/classify\nproviders: [default]\n"
                              "cases: ../../../../../../../etc/passwd\n");
  check_input_error(r.run({"test", "evil"}), "golden/evil.yaml:3:");
  check_input_error(r.run({"validate"}), "must be inside the registry");
}

TEST_CASE("hostile: a case may not run a command", "[cli][hostile]") {
  Registry r;
  const fs::path marker = r.dir.path() / "ran";
  r.write("golden/classify.jsonl",
          "{\"id\": \"ok\", \"vars\": {\"ticket\": \"t\"}}\n"
          "{\"id\": \"evil\", \"vars\": {\"ticket\": \"t\"}, \"evaluators\": [{\"type\": "
          "\"exec\", \"command\": \"touch " +
              marker.string() + "\"}]}\n");
  check_input_error(r.run({"validate"}), "golden/classify.jsonl:2:1: case \"evil\": a case may "
                                         "not run a command");
  check_input_error(r.run({"test", "classify"}), "golden/classify.jsonl:2:1:");
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("hostile: symlinks out of the registry, and devices, are not read", "[cli][hostile]") {
  Registry r;
  // A readable YAML file outside the registry, that would render if followed.
  r.dir.write("outside/secret.yaml", "template: SECRET-OUTSIDE\n");
  r.dir.write("outside/secret.mustache", "SECRET-OUTSIDE");
  r.dir.write("outside/secret.json", "{\"title\": \"SECRET-OUTSIDE\"}");
  r.dir.write("outside/secret.jsonl", "{\"id\": \"SECRET-OUTSIDE\", \"vars\": {}}\n");
  const fs::path out = r.dir.path() / "outside";

  fs::create_symlink(out / "secret.yaml", r.root / "prompts" / "link.yaml");
  auto t = r.run({"render", "link"});
  check_input_error(t, "prompts/link.yaml: leads to \"");
  CHECK(t.out.find("SECRET-OUTSIDE") == std::string::npos);
  fs::remove(r.root / "prompts" / "link.yaml");
  // A symlinked folder: names inside it resolve outside.
  fs::create_directory_symlink(out, r.root / "prompts" / "outdir");
  t = r.run({"render", "outdir/secret"});
  check_input_error(t, "prompts/outdir/secret.yaml: leads to \"");
  CHECK(t.out.find("SECRET-OUTSIDE") == std::string::npos);
  fs::remove(r.root / "prompts" / "outdir");

  r.write("prompts/uses.yaml", "template: \"{{> leak}} {{> categories}}\"\n");
  fs::create_symlink(out / "secret.mustache", r.root / "prompts" / "partials" / "leak.mustache");
  t = r.run({"render", "uses"});
  check_input_error(t, "prompts/partials/leak.mustache: leads to \"");
  CHECK(t.out.find("SECRET-OUTSIDE") == std::string::npos);
  fs::remove(r.root / "prompts" / "uses.yaml");
  fs::remove(r.root / "prompts" / "partials" / "leak.mustache");

  fs::remove(r.root / "schemas" / "classification.json");
  fs::create_symlink(out / "secret.json", r.root / "schemas" / "classification.json");
  check_input_error(r.run({"show", "support/classify", "--json"}),
                    "schemas/classification.json: leads to \"");
  fs::remove(r.root / "schemas" / "classification.json");

  fs::remove(r.root / "golden" / "classify.jsonl");
  fs::create_symlink(out / "secret.jsonl", r.root / "golden" / "classify.jsonl");
  check_input_error(r.run({"validate"}), "golden/classify.jsonl: leads to \"");

  // A device never ends: reading it whole would use all memory.
  fs::remove(r.root / "golden" / "classify.jsonl");
  fs::create_symlink("/dev/zero", r.root / "golden" / "classify.jsonl");
  check_input_error(r.run({"validate"}, 512), "golden/classify.jsonl: is not a regular file");
  fs::remove(r.root / "golden" / "classify.jsonl");
  fs::create_symlink("/dev/zero", r.root / "prompts" / "zero.yaml");
  check_input_error(r.run({"render", "zero"}, 512), "prompts/zero.yaml: is not a regular file");

  // A symlink that stays inside the registry is fine.
  fs::remove(r.root / "prompts" / "zero.yaml");
  fs::create_symlink(r.root / "prompts" / "summarize.yaml", r.root / "prompts" / "alias.yaml");
  const auto ok = r.run({"show", "alias", "--json"});
  CHECK(ok.exit_code == 0);
}

TEST_CASE("hostile: enormous files and lines", "[cli][hostile]") {
  Registry r;
  // A 200 MB prompt (sparse: quick to make) is refused by its size, not parsed.
  { std::ofstream f(r.root / "prompts" / "huge.yaml"); }
  fs::resize_file(r.root / "prompts" / "huge.yaml", 200u << 20);
  const auto big = r.run({"render", "huge"});
  check_input_error(big, "prompts/huge.yaml: file too large: 209715200 bytes");
  fs::remove(r.root / "prompts" / "huge.yaml");

  // One 20 MB line in cases.jsonl: a bounded, correct answer.
  std::string line =
      "{\"id\": \"big\", \"vars\": {\"ticket\": \"" + std::string(20u << 20, 'x') + "\"}}\n";
  r.write("golden/classify.jsonl", line);
  const auto v = r.run({"validate"});
  INFO(v.err << " peak " << v.peak_rss_mb << " MB");
  CHECK(v.exit_code == 0);
  CHECK_FALSE(v.over_memory);
  const auto t = r.run({"test", "classify", "--no-cache"});
  INFO(t.err << " peak " << t.peak_rss_mb << " MB");
  CHECK(t.exit_code == 0);
  CHECK_FALSE(t.over_memory);
  CHECK_THAT(t.out, Catch::Contains("1 case"));

  // A 200 MB line of NULs: an error naming the file and line.
  {
    std::ofstream f(r.root / "golden" / "classify.jsonl");
    f << "{\"id\": \"a\", \"vars\": {}}\n";
  }
  fs::resize_file(r.root / "golden" / "classify.jsonl", 200u << 20);
  check_input_error(r.run({"validate"}), "golden/classify.jsonl:2");
}

TEST_CASE("hostile: invalid UTF-8 in files and in model output", "[cli][hostile]") {
  Registry r;
  const std::string bad = "\xff\xfe\xc3(";
  r.write("prompts/bad.yaml", "template: \"hi " + bad + "\"\n");
  const auto p = r.run({"render", "bad"});
  CHECK(p.exit_code < 128);
  CHECK_FALSE(p.over_time);
  if (p.exit_code != 0) {
    check_input_error(p, "prompts/bad.yaml");
  }
  fs::remove(r.root / "prompts" / "bad.yaml");

  r.write("golden/bad.yaml", "prompt: support/classify\nproviders: [default]\n"
                             "cases: classify.jsonl\ndescription: \"" +
                                 bad + "\"\n");
  const auto s = r.run({"validate"});
  CHECK(s.exit_code < 128);
  if (s.exit_code != 0) {
    check_input_error(s, "golden/bad.yaml");
  }
  fs::remove(r.root / "golden" / "bad.yaml");

  r.write("golden/classify.jsonl", "{\"id\": \"a\", \"vars\": {\"ticket\": \"ok\"}}\n"
                                   "{\"id\": \"b\", \"vars\": {\"ticket\": \"" +
                                       bad + "\"}}\n");
  check_input_error(r.run({"validate"}), "golden/classify.jsonl:2");

  // Model output that is not UTF-8: recorded and reported, not a crash.
  r.write("golden/classify.jsonl", "{\"id\": \"a\", \"vars\": {\"ticket\": \"ok\"}}\n");
  r.exec_suite("caf\xc3 " + bad + "\n", "  - {type: contains, value: caf}\n  - {type: is_json}\n");
  const auto t =
      r.run({"test", "x", "--json", "--junit", "j.xml", "--html", "h.html", "--markdown", "m.md"});
  INFO(t.out << t.err);
  CHECK((t.exit_code == 0 || t.exit_code == 1)); // scored: is_json fails, contains passes
  const auto report = r.run({"report", "--json"});
  CHECK(report.exit_code < 128);
  CHECK(nlohmann::json::accept(report.out));
}

TEST_CASE("hostile: YAML alias bombs end in a clear error", "[cli][hostile]") {
  Registry r;
  const std::string original = r.dir.read("reg/promptops.yaml");
  r.write("promptops.yaml", original + alias_bomb("x-bomb"));
  check_input_error(r.run({"validate"}, 1024), "promptops.yaml:");
  check_input_error(r.run({"validate"}, 1024), "document too large");
  r.write("promptops.yaml", original);

  r.write("prompts/bomb.yaml", "template: hi\n" + alias_bomb("metadata"));
  check_input_error(r.run({"render", "bomb"}, 1024), "prompts/bomb.yaml:");
  fs::remove(r.root / "prompts" / "bomb.yaml");

  r.write("golden/bomb.yaml",
          "prompt: support/classify\nproviders: [default]\ncases: classify.jsonl\n" +
              alias_bomb("metadata"));
  check_input_error(r.run({"test", "bomb"}, 1024), "golden/bomb.yaml:");
}

TEST_CASE("hostile: deeply nested JSON in cases and in model output", "[cli][hostile]") {
  Registry r;
  const std::string deep = nested_json(100'000);
  r.write("golden/classify.jsonl",
          "{\"id\": \"a\", \"vars\": {\"ticket\": \"ok\", \"deep\": " + deep + "}}\n");
  const auto v = r.run({"validate"});
  INFO(v.err);
  CHECK(v.exit_code < 128);
  if (v.exit_code != 0) {
    check_input_error(v, "golden/classify.jsonl:1");
  }
  r.write("golden/classify.jsonl", "{\"id\": \"a\", \"vars\": {\"ticket\": \"ok\"}}\n");

  // As the model's output: is_json, json_schema and the fingerprint read it.
  r.write("schemas/deep.json", "{\"type\": \"array\", \"items\": {\"type\": \"array\"}}");
  r.exec_suite(deep + "\n",
               "  - {type: is_json}\n  - {type: json_schema, schema: schemas/deep.json}\n");
  auto t = r.run({"test", "x", "--json"});
  INFO(t.out << t.err);
  CHECK(t.exit_code < 128);
  CHECK_FALSE(t.over_time);
  CHECK((t.exit_code == 0 || t.exit_code == 1));

  // As the exec provider's whole reply ({"output": ...} shape is tried first).
  r.exec_suite("{\"output\": " + deep + "}\n", "  - {type: is_json}\n");
  t = r.run({"test", "x", "--no-cache"});
  INFO(t.out << t.err);
  CHECK(t.exit_code < 128);
  CHECK((t.exit_code == 0 || t.exit_code == 1));
}

TEST_CASE("hostile: a provider reply nested 100,000 deep is an error of its case",
          "[cli][hostile]") {
  Registry r;
  const std::string deep = nested_json(100'000);
  for (const auto& [status, body] : std::vector<std::pair<int, std::string>>{
           {200, "{\"choices\": " + deep + "}"}, {200, deep}, {500, "{\"error\": " + deep + "}"}}) {
    CannedServer server([&](const std::string&) { return CannedServer::Reply{status, body}; });
    r.write("promptops.yaml", "version: 1\nproviders:\n  default:\n    type: openai\n"
                              "    base_url: " +
                                  server.base_url() + "\n    model: m\n    retries: 0\n");
    const auto t = r.run({"test", "classify", "--no-cache", "--json"});
    INFO(status << " " << body.substr(0, 20) << "\n" << t.err);
    CHECK_FALSE(t.over_memory);
    CHECK(t.exit_code == 3); // every case an error: the run could not complete
    CHECK(server.answered() >= 1);
    const auto summary = nlohmann::json::parse(t.out, nullptr, false);
    REQUIRE(summary.is_object());
    CHECK(summary["totals"]["error"] == summary["totals"]["cases"]);
  }
}

TEST_CASE("hostile: serve answers malformed requests and outlasts a slow client",
          "[cli][hostile][serve]") {
  Registry r;
  BackgroundProcess server({"serve", "--addr", "127.0.0.1:0"}, r.root);
  const int port = listening_port(server.wait_for_stderr("listening on", 20s));
  REQUIRE(port > 0);

  // A slow client: half a request line, then nothing.
  const int slow = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(slow, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  (void)::send(slow, "GET /v1/prom", 12, MSG_NOSIGNAL);

  // Meanwhile others are answered.
  CHECK_THAT(http_raw(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
             Catch::StartsWith("HTTP/1.1 200"));

  const std::vector<std::pair<std::string, std::string>> requests = {
      {"garbage\r\n\r\n", "HTTP/1.1 400"},
      {"GET\r\n\r\n", "HTTP/1.1 400"},
      {"GET /healthz HTTP/9.9\r\n\r\n", "HTTP/1.1 "},
      {"GET /v1/prompts/%zz%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 4"},
      {"GET /v1/prompts/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
       "HTTP/1.1 4"},
      {"GET /v1/prompts/a%00b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 4"},
      {"GET /" + std::string(100'000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 4"},
      {"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1'000'000, 'h') + "\r\n\r\n",
       "HTTP/1.1 4"},
      {"DELETE /v1/prompts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 405"},
      {"POST /v1/prompts HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
       "Connection: close\r\n\r\nabc",
       "HTTP/1.1 413"},
      {"BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 4"},
  };
  for (const auto& [request, expected] : requests) {
    INFO(request.substr(0, 80));
    const std::string answer = http_raw(port, request);
    INFO(answer.substr(0, 300));
    if (answer.empty()) {
      CHECK(server.running()); // closed without an answer: allowed, if it lives on
    } else {
      CHECK_THAT(status_line(answer), Catch::StartsWith(expected));
    }
    CHECK(server.running());
  }
  CHECK_THAT(http_raw(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
             Catch::StartsWith("HTTP/1.1 200"));
  ::close(slow);
  CHECK(server.running());
  server.send_signal(SIGTERM);
  CHECK(server.wait(20s) == 0);
  CHECK(server.err().find("error") == std::string::npos);
}
