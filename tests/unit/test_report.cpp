#include "report/escape.hpp"
#include "report/html.hpp"
#include "report/junit.hpp"
#include "report/markdown.hpp"
#include "report/run_record.hpp"
#include "report/terminal.hpp"
#include "tests/support/run_fixture.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using promptops::InputError;
using promptops::report::load_run;
using promptops::report::RunRecord;
using promptops::test::count_of;
using promptops::test::evaluation;
using promptops::test::result;
using promptops::test::RunJson;
using promptops::test::suite_json;
using promptops::test::summary_json;
using promptops::test::TempDir;
using promptops::test::write_mixed_run;
using promptops::test::write_run;
using ordered_json = nlohmann::ordered_json;

namespace {

// ---------------------------------------------------------------------------------------------
// A strict little XML 1.0 reader: enough to prove that a document is well-formed (one root,
// nested tags, quoted attributes, known entities, only characters XML allows) and to read it
// back as a tree with the entities decoded. Throws std::runtime_error on the first problem.

struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::vector<std::unique_ptr<Element>> children;
  std::string text; // the decoded character data directly inside, concatenated

  std::vector<const Element*> all(const std::string& child) const {
    std::vector<const Element*> out;
    for (const auto& c : children) {
      if (c->name == child) {
        out.push_back(c.get());
      }
    }
    return out;
  }
  const Element& one(const std::string& child) const {
    const auto found = all(child);
    if (found.size() != 1) {
      throw std::runtime_error("expected one <" + child + "> in <" + name + ">, found " +
                               std::to_string(found.size()));
    }
    return *found.front();
  }
  std::string attr(const std::string& key) const {
    const auto it = attributes.find(key);
    if (it == attributes.end()) {
      throw std::runtime_error("<" + name + "> has no attribute " + key);
    }
    return it->second;
  }
};

class XmlReader {
public:
  explicit XmlReader(std::string_view text) : m_text(text) {}

  std::unique_ptr<Element> document() {
    check_characters();
    if (m_text.substr(0, 5) == "<?xml") {
      const auto end = m_text.find("?>");
      if (end == std::string_view::npos) {
        fail("unterminated XML declaration");
      }
      m_pos = end + 2;
    }
    skip_space();
    auto root = element();
    skip_space();
    if (m_pos != m_text.size()) {
      fail("content after the root element");
    }
    return root;
  }

private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML offset " + std::to_string(m_pos) + ": " + what);
  }

  // Valid UTF-8, and only the characters XML 1.0 allows.
  void check_characters() const {
    const auto* p = reinterpret_cast<const unsigned char*>(m_text.data());
    const std::size_t n = m_text.size();
    for (std::size_t i = 0; i < n;) {
      unsigned cp = p[i];
      std::size_t len = 1;
      if (cp >= 0x80) {
        len = cp >= 0xF0 ? 4 : cp >= 0xE0 ? 3 : cp >= 0xC0 ? 2 : 0;
        if (len == 0 || i + len > n || cp > 0xF4 || cp < 0xC2) {
          throw std::runtime_error("invalid UTF-8 at byte " + std::to_string(i));
        }
        cp &= 0xFFu >> (len + 1);
        for (std::size_t k = 1; k < len; ++k) {
          if ((p[i + k] & 0xC0) != 0x80) {
            throw std::runtime_error("invalid UTF-8 at byte " + std::to_string(i));
          }
          cp = (cp << 6) | (p[i + k] & 0x3F);
        }
      }
      const bool allowed = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
      if (!allowed) {
        throw std::runtime_error("character U+" + std::to_string(cp) +
                                 " not allowed in XML at byte " + std::to_string(i));
      }
      i += len;
    }
  }

  void skip_space() {
    while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\n' ||
                                     m_text[m_pos] == '\t' || m_text[m_pos] == '\r')) {
      ++m_pos;
    }
  }

  std::string name() {
    const std::size_t start = m_pos;
    while (m_pos < m_text.size() &&
           (std::isalnum(static_cast<unsigned char>(m_text[m_pos])) != 0 || m_text[m_pos] == '-' ||
            m_text[m_pos] == '_' || m_text[m_pos] == '.' || m_text[m_pos] == ':')) {
      ++m_pos;
    }
    if (m_pos == start) {
      fail("expected a name");
    }
    return std::string(m_text.substr(start, m_pos - start));
  }

  // Decode character data up to (not including) one of `stops`; a raw '<' or '&' outside a
  // known reference is an error.
  std::string chars(std::string_view stops) {
    std::string out;
    while (m_pos < m_text.size() && stops.find(m_text[m_pos]) == std::string_view::npos) {
      const char c = m_text[m_pos];
      if (c == '<') {
        fail("raw '<' in character data");
      }
      if (c == '>' && m_text.substr(m_pos >= 2 ? m_pos - 2 : 0, 3) == "]]>") {
        fail("\"]]>\" in character data");
      }
      if (c != '&') {
        out += c;
        ++m_pos;
        continue;
      }
      const auto semi = m_text.find(';', m_pos);
      if (semi == std::string_view::npos || semi - m_pos > 10) {
        fail("bad reference");
      }
      const std::string_view ref = m_text.substr(m_pos + 1, semi - m_pos - 1);
      static const std::map<std::string_view, char> named = {
          {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
      if (const auto it = named.find(ref); it != named.end()) {
        out += it->second;
      } else if (ref.size() > 1 && ref[0] == '#') {
        const bool hex = ref[1] == 'x';
        const unsigned long cp =
            std::stoul(std::string(ref.substr(hex ? 2 : 1)), nullptr, hex ? 16 : 10);
        if (cp != 9 && cp != 10 && cp != 13 && (cp < 0x20 || cp > 0x7F)) {
          fail("character reference outside what this reader decodes");
        }
        out += static_cast<char>(cp);
      } else {
        fail("unknown entity &" + std::string(ref) + ";");
      }
      m_pos = semi + 1;
    }
    return out;
  }

  void expect(std::string_view s) {
    if (m_text.substr(m_pos, s.size()) != s) {
      fail("expected \"" + std::string(s) + "\"");
    }
    m_pos += s.size();
  }

  std::unique_ptr<Element> element() {
    expect("<");
    auto e = std::make_unique<Element>();
    e->name = name();
    for (;;) {
      const std::size_t before = m_pos;
      skip_space();
      if (m_text.substr(m_pos, 2) == "/>") {
        m_pos += 2;
        return e;
      }
      if (m_text.substr(m_pos, 1) == ">") {
        ++m_pos;
        break;
      }
      if (m_pos == before) {
        fail("expected a space before an attribute");
      }
      const std::string key = name();
      expect("=");
      const char quote = m_pos < m_text.size() ? m_text[m_pos] : '\0';
      if (quote != '"' && quote != '\'') {
        fail("unquoted attribute value");
      }
      ++m_pos;
      std::string value = chars(std::string(1, quote));
      expect(std::string(1, quote));
      if (!e->attributes.emplace(key, std::move(value)).second) {
        fail("duplicate attribute " + key);
      }
    }
    for (;;) {
      e->text += chars("<");
      if (m_pos >= m_text.size()) {
        fail("unclosed <" + e->name + ">");
      }
      if (m_text.substr(m_pos, 2) == "</") {
        m_pos += 2;
        if (name() != e->name) {
          fail("mismatched end tag for <" + e->name + ">");
        }
        skip_space();
        expect(">");
        return e;
      }
      if (m_text.substr(m_pos, 4) == "<!--" || m_text.substr(m_pos, 2) == "<!" ||
          m_text.substr(m_pos, 2) == "<?") {
        fail("comments, CDATA and processing instructions are not expected here");
      }
      e->children.push_back(element());
    }
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
};

std::unique_ptr<Element> parse_xml(const std::string& xml) {
  return XmlReader(xml).document();
}

// xmllint's verdict when it is installed (an extra check; the reader above always runs).
void check_with_xmllint(const TempDir& dir, const std::string& xml) {
  if (!std::filesystem::exists("/usr/bin/xmllint")) {
    WARN("xmllint not installed: skipped its extra check");
    return;
  }
  const auto file = dir.write("junit-check.xml", xml);
  const std::string command = "/usr/bin/xmllint --noout '" + file.string() + "' 2>&1";
  CHECK(std::system(command.c_str()) == 0);
}

// The hostile output every report must keep inert.
const std::string k_hostile = std::string("</testcase><script>alert(1)</script> ]]> ") +
                              "\x1b[31mred\x1b[0m | pipe `tick` ```` \"dq\" 'sq' " +
                              "<img src=x onerror=alert(2)> & @everyone \xff\xfe end\n" +
                              "second line </details>";

// A record with the hostile text as case id, output, reason and error (built in memory: a
// results.jsonl line could not hold the invalid UTF-8).
RunRecord hostile_record() {
  RunJson record;
  record.run_id = "hostile-run";
  record.run = ordered_json{{"run_id", "hostile-run"}, {"started", "2026-01-02T03:04:05Z"}};
  record.results.push_back(result(k_hostile, "classify", "openai", "fail", k_hostile,
                                  ordered_json::array({evaluation("contains", false, k_hostile)})));
  record.results.push_back(result("err-" + k_hostile, "classify", "openai", "error", k_hostile));
  record.summary = summary_json(
      "hostile-run",
      ordered_json::array({suite_json("classify", {"openai"}, 0, 1, 1, false,
                                      ordered_json::array({{{"provider", "openai"},
                                                            {"file", "b.jsonl"},
                                                            {"compared", 1},
                                                            {"regressed", {k_hostile}},
                                                            {"fixed", ordered_json::array()},
                                                            {"still_failing", 0},
                                                            {"changed_outputs", 1}}}))}),
      false, {k_hostile});
  return record.read();
}

// `markdown` without the contents of its fenced code blocks (backtick fences at the start of a
// line, closed by a line of at least as many backticks and nothing else).
std::string outside_fences(const std::string& markdown) {
  std::string out;
  std::size_t fence = 0; // the open fence's length; 0 outside
  std::size_t start = 0;
  while (start < markdown.size()) {
    std::size_t end = markdown.find('\n', start);
    end = end == std::string::npos ? markdown.size() : end + 1;
    const std::string line = markdown.substr(start, end - start);
    std::size_t ticks = 0;
    while (ticks < line.size() && line[ticks] == '`') {
      ++ticks;
    }
    if (fence == 0) {
      if (ticks >= 3) {
        fence = ticks;
      } else {
        out += line;
      }
    } else if (ticks >= fence && line.find_first_not_of("`\n", ticks) == std::string::npos) {
      fence = 0;
    }
    start = end;
  }
  return out;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// load_run

TEST_CASE("report::load_run, a finished run", "[report]") {
  TempDir dir;
  const auto run_dir = write_mixed_run(dir);
  const RunRecord run = load_run(run_dir);
  CHECK(run.run_id == "20260102-030405-abcd");
  CHECK(run.dir == run_dir);
  CHECK(run.results.size() == 5);
  CHECK(run.results[0].id == "c10");
  CHECK(run.summary.gate_passed == false);
  CHECK(run.run.started == "2026-01-02T03:04:05Z");
}

TEST_CASE("report::load_run, a run without summary.json did not finish", "[report]") {
  TempDir dir;
  dir.write("runs/r1/run.json", "{\"run_id\": \"r1\"}\n");
  dir.write("runs/r1/results.jsonl", "");
  const auto run_dir = dir.path() / "runs" / "r1";
  REQUIRE_THROWS_AS(load_run(run_dir), InputError);
  REQUIRE_THROWS_WITH(load_run(run_dir),
                      (run_dir / "summary.json").string() +
                          ": missing: run r1 did not finish (complete it with promptops test "
                          "--resume r1)");
}

TEST_CASE("report::load_run, a folder that is no run", "[report]") {
  TempDir dir;
  REQUIRE_THROWS_WITH(load_run(dir.path() / "nope"),
                      (dir.path() / "nope").string() + ": no such run folder");
  dir.write("empty/other.txt", "x");
  REQUIRE_THROWS_WITH(load_run(dir.path() / "empty"),
                      (dir.path() / "empty").string() +
                          ": not a run folder (it has no run.json, summary.json or results.jsonl)");
}

TEST_CASE("report::load_run, a bad results line names file and line", "[report]") {
  TempDir dir;
  const auto run_dir = write_mixed_run(dir);
  const std::string lines = dir.read("runs/20260102-030405-abcd/results.jsonl");
  const auto second = lines.find('\n') + 1;
  SECTION("not JSON") {
    dir.write("runs/20260102-030405-abcd/results.jsonl",
              lines.substr(0, second) + "{\"id\": oops}\n" + lines.substr(second));
    REQUIRE_THROWS_WITH(load_run(run_dir),
                        (run_dir / "results.jsonl").string() + ":2: not valid JSON");
  }
  SECTION("JSON but not an object") {
    dir.write("runs/20260102-030405-abcd/results.jsonl",
              lines.substr(0, second) + "[1, 2]\n" + lines.substr(second));
    REQUIRE_THROWS_WITH(load_run(run_dir),
                        (run_dir / "results.jsonl").string() + ":2: not a JSON object");
  }
  SECTION("a bad last line with its newline is not a cut-short line") {
    dir.write("runs/20260102-030405-abcd/results.jsonl", lines + "{\"id\": \"x\", \n");
    REQUIRE_THROWS_WITH(load_run(run_dir),
                        (run_dir / "results.jsonl").string() + ":6: not valid JSON");
  }
  SECTION("a line of a newer format_version") {
    dir.write("runs/20260102-030405-abcd/results.jsonl",
              lines.substr(0, second) + "{\"id\": \"x\", \"format_version\": 99}\n" +
                  lines.substr(second));
    REQUIRE_THROWS_WITH(load_run(run_dir),
                        Catch::StartsWith((run_dir / "results.jsonl").string() +
                                          ":2: a result line is of format_version 99"));
  }
}

TEST_CASE("report::load_run, a summary.json of a newer format_version names the file", "[report]") {
  TempDir dir;
  const auto run_dir = write_mixed_run(dir);
  dir.write("runs/20260102-030405-abcd/summary.json", "{\"format_version\": 99}\n");
  REQUIRE_THROWS_WITH(load_run(run_dir),
                      Catch::StartsWith((run_dir / "summary.json").string() +
                                        ": summary.json is of format_version 99"));
}

TEST_CASE("report::load_run, a last line cut short by a kill is ignored", "[report]") {
  TempDir dir;
  const auto run_dir = write_mixed_run(dir);
  const std::string lines = dir.read("runs/20260102-030405-abcd/results.jsonl");
  dir.write("runs/20260102-030405-abcd/results.jsonl", lines + "{\"id\": \"c3\", \"outp");
  const RunRecord run = load_run(run_dir);
  CHECK(run.results.size() == 5);
}

TEST_CASE("report::load_run, blank lines are skipped", "[report]") {
  TempDir dir;
  const auto run_dir = write_mixed_run(dir);
  const std::string lines = dir.read("runs/20260102-030405-abcd/results.jsonl");
  dir.write("runs/20260102-030405-abcd/results.jsonl", "\n" + lines + "\n");
  CHECK(load_run(run_dir).results.size() == 5);
}

TEST_CASE("report::load_run, a big run read on two threads keeps order and line numbers",
          "[report]") {
  TempDir dir;
  std::vector<ordered_json> results;
  for (int i = 0; i < 9000; ++i) {
    results.push_back(result("c" + std::to_string(i), "classify", "openai", "pass", "ok"));
  }
  const auto run_dir = write_run(
      dir, "big",
      summary_json("big",
                   ordered_json::array({suite_json("classify", {"openai"}, 9000, 0, 0, true)}),
                   true, ordered_json::array()),
      results);
  const std::string lines = dir.read("runs/big/results.jsonl");
  SECTION("every line in order, a last line cut short left out") {
    dir.write("runs/big/results.jsonl", lines + "{\"id\": \"c9000\", \"outp");
    const RunRecord run = load_run(run_dir);
    REQUIRE(run.results.size() == 9000);
    for (std::size_t i = 0; i < run.results.size(); i += 499) {
      CHECK(run.results[i].id == "c" + std::to_string(i));
    }
    CHECK(run.results.back().id == "c8999");
  }
  SECTION("the earliest bad line is named, whichever half it is in") {
    std::vector<std::string> split;
    for (std::size_t start = 0; start < lines.size();) {
      const std::size_t end = lines.find('\n', start);
      split.push_back(lines.substr(start, end + 1 - start));
      start = end + 1;
    }
    split[7000] = "[7000]\n";
    const auto joined = [&split] {
      std::string text;
      for (const auto& line : split) {
        text += line;
      }
      return text;
    };
    dir.write("runs/big/results.jsonl", joined());
    REQUIRE_THROWS_WITH(load_run(run_dir),
                        (run_dir / "results.jsonl").string() + ":7001: not a JSON object");
    split[99] = "{oops\n";
    dir.write("runs/big/results.jsonl", joined());
    REQUIRE_THROWS_WITH(load_run(run_dir),
                        (run_dir / "results.jsonl").string() + ":100: not valid JSON");
  }
}

TEST_CASE("report::load_run, a summary.json that is not JSON names its line", "[report]") {
  TempDir dir;
  const auto run_dir = write_mixed_run(dir);
  dir.write("runs/20260102-030405-abcd/summary.json", "{\n  \"run_id\": \"x\",\n  oops\n}\n");
  REQUIRE_THROWS_WITH(load_run(run_dir),
                      (run_dir / "summary.json").string() + ":3: not valid JSON");
}

TEST_CASE("report::load_run, results.jsonl missing", "[report]") {
  TempDir dir;
  const auto run_dir = write_mixed_run(dir);
  std::filesystem::remove(run_dir / "results.jsonl");
  REQUIRE_THROWS_WITH(load_run(run_dir), (run_dir / "results.jsonl").string() +
                                             ": missing: the run's results are gone");
}

// ---------------------------------------------------------------------------------------------
// group_results and failure_reason

TEST_CASE("report::group_results, summary order and natural case order", "[report]") {
  TempDir dir;
  const RunRecord run = load_run(write_mixed_run(dir));
  const auto groups = promptops::report::group_results(run);
  REQUIRE(groups.size() == 3);
  CHECK(promptops::report::group_name(groups[0]) == "classify on openai");
  CHECK(promptops::report::group_name(groups[1]) == "classify on anthropic");
  CHECK(promptops::report::group_name(groups[2]) == "summarize on openai");
  REQUIRE(groups[0].results.size() == 2);
  CHECK(groups[0].results[0]->id == "c2"); // before c10
  CHECK(groups[0].results[1]->id == "c10");
  CHECK(groups[0].suite_file == "golden/classify.yaml");
}

TEST_CASE("report::group_results, several prompts on one provider get their own groups",
          "[report]") {
  RunJson built;
  built.run_id = "r";
  built.summary = summary_json("r", ordered_json::array(), true, ordered_json::array());
  auto a = result("c1", "classify", "openai", "pass", "x");
  auto b = a;
  b["prompt"] = "support/classify-v2";
  b["prompt_version"] = "v2";
  auto c = a;
  c["prompt_version"] = "0123456789abcdef0123456789abcdef";
  auto other = result("c1", "classify", "anthropic", "pass", "x");
  built.results = {a, b, c, other};
  const RunRecord record = built.read();
  const auto groups = promptops::report::group_results(record);
  REQUIRE(groups.size() == 4);
  CHECK(promptops::report::group_name(groups[0]) ==
        "classify on openai (support/classify@v-classify)");
  CHECK(promptops::report::group_name(groups[1]) == "classify on openai (support/classify-v2@v2)");
  CHECK(promptops::report::group_name(groups[2]) ==
        "classify on openai (support/classify@0123456789ab)");
  CHECK(promptops::report::group_name(groups[3]) == "classify on anthropic");

  // GitLab keeps one of two tests with the same classname and name: every pair is unique.
  const auto xml = parse_xml(promptops::report::junit_xml(record));
  std::set<std::string> seen;
  std::set<std::string> names;
  for (const Element* suite : xml->all("testsuite")) {
    names.insert(suite->attr("name"));
    for (const Element* test : suite->all("testcase")) {
      CHECK(seen.insert(test->attr("classname") + "\n" + test->attr("name")).second);
    }
  }
  CHECK(seen.size() == 4);
  CHECK(names.size() == 4);
  CHECK(seen.count("classify.openai.support/classify@0123456789ab\nc1") == 1);
  CHECK(seen.count("classify.anthropic\nc1") == 1);
}

TEST_CASE("golden::failure_reason of a stored line, the first failed required evaluation",
          "[report]") {
  const auto failure_reason = [](const ordered_json& line) {
    return promptops::golden::failure_reason(promptops::test::read_result(line));
  };
  auto r = result("c", "s", "p", "fail", "out",
                  ordered_json::array({evaluation("similarity", false, "low", false),
                                       evaluation("is_json", false, "not JSON")}));
  CHECK(failure_reason(r) == "is_json: not JSON");
  r["evaluations"] = ordered_json::array({evaluation("similarity", false, "low", false)});
  CHECK(failure_reason(r) == "similarity: low");
  CHECK(failure_reason(result("c", "s", "p", "error", "timed out")) == "timed out");
  CHECK(failure_reason(result("c", "s", "p", "pass", "ok")).empty());
}

// ---------------------------------------------------------------------------------------------
// JUnit

TEST_CASE("report::junit_xml, counts, names and messages of a mixed run", "[report]") {
  TempDir dir;
  const RunRecord run = load_run(write_mixed_run(dir));
  const std::string xml = promptops::report::junit_xml(run);
  const auto root = parse_xml(xml);
  check_with_xmllint(dir, xml);

  CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0) == 0);
  REQUIRE(root->name == "testsuites");
  CHECK(root->attr("tests") == "5");
  CHECK(root->attr("failures") == "2");
  CHECK(root->attr("errors") == "1");
  CHECK(root->attr("skipped") == "0");
  CHECK(root->attr("time") == "3.984");

  const auto suites = root->all("testsuite");
  REQUIRE(suites.size() == 3);
  const Element& openai = *suites[0];
  CHECK(openai.attr("name") == "classify on openai");
  CHECK(openai.attr("tests") == "2");
  CHECK(openai.attr("failures") == "1");
  CHECK(openai.attr("errors") == "0");
  CHECK(openai.attr("skipped") == "0");
  CHECK(openai.attr("time") == "3.234");
  CHECK(openai.attr("timestamp") == "2026-01-02T03:04:05");
  std::map<std::string, std::string> properties;
  for (const Element* p : openai.one("properties").all("property")) {
    properties[p->attr("name")] = p->attr("value");
  }
  CHECK(properties["run_id"] == "20260102-030405-abcd");
  CHECK(properties["prompt_version"] == "v-classify");
  CHECK(properties["provider"] == "openai");
  CHECK(properties["model"] == "openai-model");

  const auto cases = openai.all("testcase");
  REQUIRE(cases.size() == 2);
  CHECK(cases[0]->attr("name") == "c2");
  CHECK(cases[0]->attr("classname") == "classify.openai");
  CHECK(cases[0]->attr("time") == "2.000");
  CHECK(cases[0]->attr("file") == "golden/classify.yaml");
  const Element& failure = cases[0]->one("failure");
  CHECK(failure.attr("message") == "is_json: not JSON: unexpected 'S'");
  CHECK(failure.attr("type") == "evaluation");
  // GitLab ignores the message attribute: the body repeats it and lists every evaluation.
  CHECK(failure.text.rfind("is_json: not JSON: unexpected 'S'\n", 0) == 0);
  CHECK(failure.text.find("FAIL  similarity (score 0.00, not required): 0.41 < 0.8") !=
        std::string::npos);
  CHECK(failure.text.find("FAIL  contains (score 0.00): no \"label\"") != std::string::npos);
  CHECK(cases[0]->one("system-out").text == "Sure! Here is the JSON");
  CHECK(cases[1]->attr("name") == "c10");
  CHECK(cases[1]->children.empty());
  CHECK(cases[1]->attr("time") == "1.234");

  const Element& anthropic = *suites[1];
  CHECK(anthropic.attr("name") == "classify on anthropic");
  CHECK(anthropic.attr("errors") == "1");
  CHECK(anthropic.attr("failures") == "0");
  const Element& errored = *anthropic.all("testcase")[0];
  CHECK(errored.attr("name") == "c1");
  CHECK(errored.attr("time") == "0.000");
  const Element& error = errored.one("error");
  CHECK(error.attr("message") == "provider error 529 overloaded after 3 tries");
  CHECK(error.attr("type") == "provider");
  CHECK(error.text.find("attempts: 3") != std::string::npos);
  CHECK(errored.all("system-out").empty());

  CHECK(suites[2]->attr("name") == "summarize on openai");
  CHECK(suites[2]->one("testcase").one("failure").attr("message") ==
        "max_length: 12 > 10 characters");
}

TEST_CASE("report::junit_xml, hostile model output stays escaped and well-formed", "[report]") {
  TempDir dir;
  const RunRecord record = hostile_record();
  const std::string xml = promptops::report::junit_xml(record);
  std::unique_ptr<Element> root;
  REQUIRE_NOTHROW(root = parse_xml(xml));
  check_with_xmllint(dir, xml);

  // Nothing of the output became markup or raw control bytes.
  CHECK(xml.find("<script") == std::string::npos);
  CHECK(xml.find("<img") == std::string::npos);
  CHECK(xml.find("]]>") == std::string::npos);
  CHECK(xml.find('\x1b') == std::string::npos);
  CHECK(xml.find('\xff') == std::string::npos);
  CHECK(count_of(xml, "<testcase ") == 2);
  CHECK(count_of(xml, "</testcase>") == 2);

  // Read back, it is the text itself, with controls shown and bad bytes replaced.
  const std::string shown = std::string("</testcase><script>alert(1)</script> ]]> ") +
                            "\\x1b[31mred\\x1b[0m | pipe `tick` ```` \"dq\" 'sq' " +
                            "<img src=x onerror=alert(2)> & @everyone \xEF\xBF\xBD\xEF\xBF\xBD " +
                            "end\nsecond line </details>";
  const Element& suite = root->one("testsuite");
  const auto cases = suite.all("testcase");
  REQUIRE(cases.size() == 2);
  CHECK(cases[0]->attr("name") == shown); // natural order: "</..." before "err-"
  CHECK(cases[0]->one("system-out").text == shown);
  CHECK(cases[0]->one("failure").attr("message") == "contains: " + shown);
  CHECK(cases[0]->one("failure").text.find("FAIL  contains (score 0.00): " + shown) !=
        std::string::npos);
  CHECK(cases[1]->attr("name") == "err-" + shown);
  CHECK(cases[1]->one("error").attr("message") == shown);
}

TEST_CASE("report::junit_xml, very long output is cut with a note", "[report]") {
  RunRecord record = hostile_record();
  record.results.resize(1);
  record.results[0].output = std::string(100000, 'x') + "\xc3\xa9";
  const auto root = parse_xml(promptops::report::junit_xml(record));
  const std::string out = root->one("testsuite").one("testcase").one("system-out").text;
  CHECK(out.size() < 20000);
  CHECK(out.find("output cut") != std::string::npos);
}

TEST_CASE("report::junit_xml, a run with no results is still a document", "[report]") {
  RunJson built;
  built.run_id = "empty";
  built.summary = summary_json("empty", ordered_json::array(), true, ordered_json::array());
  const RunRecord record = built.read();
  const auto root = parse_xml(promptops::report::junit_xml(record));
  CHECK(root->attr("tests") == "0");
  CHECK(root->all("testsuite").empty());
}

TEST_CASE("report::clean_text and xml_escape, the characters XML 1.0 forbids", "[report]") {
  using promptops::report::clean_text;
  using promptops::report::xml_escape;
  using promptops::report::XmlContext;
  CHECK(clean_text("a\tb\nc\rd") == "a\tb\nc\rd");
  CHECK(clean_text(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(clean_text("\x1b[1m\x7f") == "\\x1b[1m\\x7f");
  CHECK(clean_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(clean_text("\xc0\xaf") == "\xEF\xBF\xBD\xEF\xBF\xBD");                 // overlong '/'
  CHECK(clean_text("\xed\xa0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // surrogate
  CHECK(clean_text("\xef\xbf\xbe\xef\xbf\xbf") == "\xEF\xBF\xBD\xEF\xBF\xBD"); // U+FFFE/FFFF
  CHECK(clean_text("cut \xe2\x82") == "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(xml_escape("<a href=\"x\">'&'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
  CHECK(xml_escape("a\nb\r\n\tc", XmlContext::attribute) == "a&#10;b&#13;&#10;&#9;c");
  CHECK(xml_escape("a\nb\r\n", XmlContext::text) == "a\nb&#13;\n");
  CHECK(promptops::util::text::truncate_utf8("\xc3\xa9\xc3\xa9", 3, "...") == "\xc3\xa9...");
}

// ---------------------------------------------------------------------------------------------
// Markdown

TEST_CASE("report::markdown_report, the verdict first and sections in order", "[report]") {
  TempDir dir;
  const RunRecord run = load_run(write_mixed_run(dir));
  const std::string md = promptops::report::markdown_report(run);

  CHECK(md.rfind("<!-- promptops:report -->\n## ❌ promptops: gate FAILED\n", 0) == 0);
  CHECK(md.find("Run 20260102-030405-abcd · 5 cases: 2 pass, 2 fail, 1 error (40.0% pass)") !=
        std::string::npos);
  CHECK(md.find("- classify: pass rate 50.0% (2 of 4) is below the gate's 100.0%\n") !=
        std::string::npos);

  const std::vector<std::string> order = {
      "gate FAILED", "### Against the baseline", "### Format drift", "### Provider changes",
      "### Suites",  "### Failures (3)",         "### Failed cases", "<details>"};
  std::size_t previous = 0;
  for (const auto& heading : order) {
    const std::size_t at = md.find(heading);
    INFO(heading);
    REQUIRE(at != std::string::npos);
    CHECK(at >= previous);
    previous = at;
  }

  CHECK(md.find("| classify | openai | **1**: c2 | - | 2 | 0 | 1 |\n") != std::string::npos);
  CHECK(md.find("- **classify on openai** (code\\_fence): 2 of 2 outputs now wrap JSON in "
                "&#96;&#96;&#96;json fences; baseline 0 of 2\n") != std::string::npos);
  CHECK(md.find("the provider now answers as gpt-4o-2024-08-06") != std::string::npos);
  CHECK(md.find("| classify | openai, anthropic | 4 | 2 | 1 | 1 | 50.0% | ❌ min 100.0% |\n") !=
        std::string::npos);
  // Failures: the regression first, then failed cases, then errors.
  const auto regressed = md.find("| classify | openai | c2 | **regressed** is\\_json: not JSON");
  const auto failed = md.find("| summarize | openai | s1 | max\\_length: 12 &gt; 10 characters |");
  const auto errored =
      md.find("| classify | anthropic | c1 | **error** provider error 529 overloaded");
  REQUIRE(regressed != std::string::npos);
  REQUIRE(failed != std::string::npos);
  REQUIRE(errored != std::string::npos);
  CHECK(regressed < failed);
  CHECK(failed < errored);

  // Folded cases: summary line, evaluations, output in a fence.
  CHECK(count_of(md, "<details>") == 3);
  CHECK(count_of(md, "</details>") == 3);
  CHECK(md.find("<details><summary>classify on openai: c2 (regressed)</summary>\n\n") !=
        std::string::npos);
  CHECK(md.find("- ❌ is\\_json: not JSON: unexpected 'S'\n") != std::string::npos);
  CHECK(md.find("Output of openai-model:\n\n```\nSure! Here is the JSON\n```\n") !=
        std::string::npos);
  CHECK(md.find("No output: the provider did not answer.") != std::string::npos);
}

TEST_CASE("report::markdown_report, a passing run without baseline", "[report]") {
  TempDir dir;
  const auto summary = summary_json(
      "ok-run", ordered_json::array({suite_json("classify", {"openai"}, 1, 0, 0, true)}), true,
      ordered_json::array());
  const RunRecord run = load_run(
      write_run(dir, "ok-run", summary, {result("c1", "classify", "openai", "pass", "x")}));
  const std::string md = promptops::report::markdown_report(run);
  CHECK(md.rfind("<!-- promptops:report -->\n## ✅ promptops: gate passed\n", 0) == 0);
  CHECK(md.find("No baseline to compare with") != std::string::npos);
  CHECK(md.find("### Failures") == std::string::npos);
  CHECK(md.find("<details>") == std::string::npos);
}

TEST_CASE("report::markdown_report, an interrupted run says so", "[report]") {
  TempDir dir;
  auto summary = summary_json(
      "int-run", ordered_json::array({suite_json("classify", {"openai"}, 1, 0, 0, true)}), false,
      {"the run was interrupted; finish it with --resume int-run"});
  summary["interrupted"] = true;
  const RunRecord run = load_run(
      write_run(dir, "int-run", summary, {result("c1", "classify", "openai", "pass", "x")}));
  const std::string md = promptops::report::markdown_report(run);
  CHECK(md.find("gate FAILED") != std::string::npos);
  CHECK(md.find("**The run was interrupted**") != std::string::npos);
  CHECK(md.find("- the run was interrupted; finish it with --resume int-run\n") !=
        std::string::npos);
}

TEST_CASE("report::markdown_report, hostile output cannot inject HTML, cells or fences",
          "[report]") {
  const RunRecord record = hostile_record();
  const std::string md = promptops::report::markdown_report(record);

  // Outside code fences (whose text GitHub shows as is) nothing is markup from the output.
  const std::string markup = outside_fences(md);
  CHECK(markup.find("<script") == std::string::npos);
  CHECK(markup.find("<img") == std::string::npos);
  CHECK(markup.find("</testcase>") == std::string::npos);
  CHECK(markup.find("@everyone") == std::string::npos);
  CHECK(count_of(markup, "<details>") == 2);
  CHECK(count_of(markup, "</details>") == 2);
  CHECK(md.find('\x1b') == std::string::npos);
  CHECK(md.find('\xff') == std::string::npos);
  CHECK(markup.size() < md.size()); // the output is in a fence

  // When cmark-gfm (GitHub's renderer) is installed, render with raw HTML allowed: the output
  // adds no element and no table cell. An extra check, skipped without the tool.
  if (std::filesystem::exists("/usr/bin/cmark-gfm")) {
    TempDir dir;
    const auto file = dir.write("report.md", md);
    const std::string command = "/usr/bin/cmark-gfm --unsafe -e table -e autolink -e tagfilter '" +
                                file.string() + "' > '" + (dir.path() / "report.html").string() +
                                "'";
    REQUIRE(std::system(command.c_str()) == 0);
    const std::string html = dir.read("report.html");
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("<img") == std::string::npos);
    CHECK(html.find("</testcase>") == std::string::npos);
    CHECK(count_of(html, "<details>") == 2);
    CHECK(count_of(html, "</details>") == 2);
    CHECK(count_of(html, "<pre>") == 1);
    // Cells: the baseline row (7), the suite row (8), two failure rows (4 each).
    CHECK(count_of(html, "<td") == 7 + 8 + 2 * 4);
  } else {
    WARN("cmark-gfm not installed: skipped rendering the Markdown");
  }

  // Table rows keep their four cells: the output's "|" and newline are escaped.
  const std::string escaped_id =
      "&lt;/testcase&gt;&lt;script&gt;alert(1)&lt;/script&gt; \\]\\]&gt; \\\\x1b\\[31mred\\\\x1b"
      "\\[0m \\| pipe &#96;tick&#96; &#96;&#96;&#96;&#96; \"dq\" 'sq' &lt;img src=x "
      "onerror=alert(2)&gt; &amp; @&#8203;everyone \xEF\xBF\xBD\xEF\xBF\xBD end<br>second line "
      "&lt;/details&gt;";
  CHECK(md.find("| classify | openai | " + escaped_id + " | **regressed** contains: " + escaped_id +
                " |\n") != std::string::npos);
  CHECK(md.find("- " + escaped_id.substr(0, 40)) != std::string::npos); // the gate reason

  // The output in a fence longer than its longest backtick run (4).
  const std::string fenced = "`````\n</testcase><script>alert(1)</script> ]]> \\x1b[31mred";
  CHECK(md.find(fenced) != std::string::npos);
  CHECK(md.find("second line </details>\n`````\n") != std::string::npos);
  // The summary line is HTML-escaped and on one line.
  CHECK(md.find("<details><summary>classify on openai: &lt;/testcase&gt;&lt;script&gt;") !=
        std::string::npos);
  CHECK(md.find("end&#10;second line &lt;/details&gt; (regressed)</summary>") != std::string::npos);
}

TEST_CASE("report::markdown_report, long runs stay within the limits", "[report]") {
  RunJson built;
  built.run_id = "big";
  for (int i = 0; i < 120; ++i) {
    built.results.push_back(
        result("case-" + std::to_string(i), "classify", "openai", "fail", std::string(20000, 'o'),
               ordered_json::array({evaluation("contains", false, "missing \"x\"")})));
  }
  built.summary = summary_json(
      "big", ordered_json::array({suite_json("classify", {"openai"}, 0, 120, 0, false)}), false,
      {"classify: pass rate 0.0% (0 of 120) is below the gate's 100.0%"});
  const RunRecord record = built.read();

  SECTION("at most 50 failure rows and max_diffs folded cases") {
    const std::string md = promptops::report::markdown_report(record, 3);
    CHECK(md.size() <= promptops::report::k_markdown_max_bytes);
    CHECK(count_of(md, "| classify | openai | case-") == 50);
    CHECK(md.find("| classify | openai | case-49 |") != std::string::npos);
    CHECK(md.find("… and 70 more: see the JUnit report") != std::string::npos);
    CHECK(count_of(md, "<details>") == 3);
    CHECK(md.find("### Failed cases (the first 3)") != std::string::npos);
    CHECK(md.find("output cut") != std::string::npos);
    CHECK(md.find("The report was cut") == std::string::npos);
  }
  SECTION("a report over the limit is cut between blocks with a note") {
    const std::string md = promptops::report::markdown_report(record, 100);
    CHECK(md.size() <= promptops::report::k_markdown_max_bytes);
    CHECK(md.find("The report was cut to fit 65536 bytes") != std::string::npos);
    CHECK(count_of(md, "<details>") == count_of(md, "</details>"));
    CHECK(count_of(md, "<details>") > 0);
    CHECK(count_of(md, "<details>") < 100);
    CHECK(count_of(md, "\n```\n") % 2 == 0); // every fence closed
  }
  SECTION("a smaller limit") {
    const std::string md = promptops::report::markdown_report(record, 10, 3000);
    CHECK(md.size() <= 3000);
    CHECK(md.rfind("<!-- promptops:report -->\n## ❌ promptops: gate FAILED\n", 0) == 0);
    CHECK(md.find("The report was cut") != std::string::npos);
  }
}

TEST_CASE("report::markdown_inline and markdown_fence, escaping rules", "[report]") {
  using promptops::report::LineBreaks;
  using promptops::report::markdown_fence;
  using promptops::report::markdown_inline;
  CHECK(markdown_inline("a|b") == "a\\|b");
  CHECK(markdown_inline("*x* _y_ [l](u) ~s~ #1 \\") ==
        "\\*x\\* \\_y\\_ \\[l\\](u) \\~s\\~ \\#1 \\\\");
  CHECK(markdown_inline("<b>&amp;</b>") == "&lt;b&gt;&amp;amp;&lt;/b&gt;");
  CHECK(markdown_inline("`code`") == "&#96;code&#96;");
  CHECK(markdown_inline("a\nb\r\nc", LineBreaks::space) == "a b c");
  CHECK(markdown_inline("a\nb\r\nc", LineBreaks::br) == "a<br>b<br>c");
  CHECK(markdown_inline("- item") == "\\- item");
  CHECK(markdown_inline("+ item") == "\\+ item");
  CHECK(markdown_inline("12. item") == "12\\. item");
  CHECK(markdown_inline("3) item") == "3\\) item");
  CHECK(markdown_inline("a - b 1. c") == "a - b 1. c");
  CHECK(markdown_inline("hi @octocat") == "hi @&#8203;octocat");
  CHECK(markdown_fence("plain") == "```\nplain\n```\n");
  CHECK(markdown_fence("a ``` b\n") == "````\na ``` b\n````\n");
  CHECK(markdown_fence("x ````` y") == "``````\nx ````` y\n``````\n");
  CHECK(markdown_fence("\x1b[0m") == "```\n\\x1b[0m\n```\n");
}

// ---------------------------------------------------------------------------------------------
// Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE) reorder
// what a reader sees: every view escapes them, as it does control characters.

namespace {

const std::string k_rlo = "\xE2\x80\xAE";      // U+202E
const std::string k_lri = "\xE2\x81\xA6";      // U+2066
const std::string k_c1_csi = "\xC2\x9B";       // U+009B, a terminal's CSI
const std::string k_line_sep = "\xE2\x80\xA8"; // U+2028

bool has_raw_bidi(const std::string& text) {
  return text.find(k_rlo) != std::string::npos || text.find(k_lri) != std::string::npos;
}

RunRecord bidi_record() {
  const std::string sneaky = "pay " + k_rlo + "txt.exe" + k_lri + " now" + k_c1_csi + "2J";
  RunJson record;
  record.run_id = "bidi";
  record.run = ordered_json{{"run_id", "bidi"}, {"started", "2026-01-02T03:04:05Z"}};
  record.results.push_back(result("c1 " + sneaky, "classify", "openai", "fail", sneaky,
                                  ordered_json::array({evaluation("contains", false, sneaky)})));
  record.summary = summary_json(
      "bidi", ordered_json::array({suite_json("classify", {"openai"}, 0, 1, 0, false)}), false,
      ordered_json::array({"pass rate 0% " + sneaky}));
  return record.read();
}

} // namespace

TEST_CASE("report::terminal_safe, bidirectional controls and C1 are escaped", "[report]") {
  using promptops::report::terminal_safe;
  CHECK(terminal_safe("a" + k_rlo + "b" + k_lri + "c") == "a\\u202eb\\u2066c");
  CHECK(terminal_safe("x" + k_c1_csi + "2J\x1b[1m\t\n") == "x\\u009b2J\\x1b[1m\\t\\n");
  CHECK(terminal_safe("bad \xff byte") == "bad \\xff byte");
  CHECK(terminal_safe("line" + k_line_sep + "sep") == "line\\u2028sep");
  // Cut after `max` characters, never inside one.
  CHECK(terminal_safe("abcdef", 3) == "abc...");
  CHECK(terminal_safe("\xC3\xA9\xC3\xA9\xC3\xA9", 2) == "\xC3\xA9\xC3\xA9...");
  CHECK(terminal_safe("abc", 3) == "abc");
}

TEST_CASE("report::format_outcome, the failure table escapes bidirectional controls", "[report]") {
  const RunRecord record = bidi_record();
  promptops::golden::RunOutcome outcome;
  outcome.run_id = record.run_id;
  outcome.dir = "runs/bidi";
  outcome.summary = record.summary;
  outcome.failures.push_back(
      {"classify", "openai" + k_lri, "c1" + k_rlo, "fail", "contains: got " + k_rlo + "evil"});
  const std::string out = promptops::report::format_outcome(outcome, 1.5, false);
  CHECK_FALSE(has_raw_bidi(out));
  CHECK(out.find("FAIL  classify  openai\\u2066  c1\\u202e  contains: got \\u202eevil\n") !=
        std::string::npos);
  CHECK(out.find("  pass rate 0% pay \\u202etxt.exe\\u2066 now\\u009b2J\n") != std::string::npos);
}

TEST_CASE("report::clean_text, the printable rule with line breaks kept", "[report]") {
  using promptops::report::clean_text;
  CHECK(clean_text("a" + k_rlo + "b" + k_lri + "c") == "a\\u202eb\\u2066c");
  CHECK(clean_text("csi " + k_c1_csi) == "csi \\u009b");
  CHECK(clean_text("l1\nl2" + k_line_sep) == "l1\nl2" + k_line_sep);
  CHECK(promptops::report::html_escape("l1" + k_line_sep) == "l1&#8232;");
  CHECK(promptops::report::clean_cut("ab\xC3\xA9"
                                     "cd",
                                     3, "+") == "ab+");
  CHECK(promptops::report::clean_cut("\x1b"
                                     "abc",
                                     3, "+") == "\\x1+");
}

TEST_CASE("report::junit_xml, markdown_report and html_report escape bidirectional controls",
          "[report]") {
  const RunRecord record = bidi_record();
  const std::string shown = "pay \\u202etxt.exe\\u2066 now\\u009b2J";
  SECTION("JUnit") {
    const std::string xml = promptops::report::junit_xml(record);
    CHECK_FALSE(has_raw_bidi(xml));
    CHECK(xml.find(k_c1_csi) == std::string::npos);
    const auto root = parse_xml(xml);
    const Element& testcase = root->one("testsuite").one("testcase");
    CHECK(testcase.attr("name") == "c1 " + shown);
    CHECK(testcase.one("system-out").text == shown);
  }
  SECTION("Markdown") {
    const std::string md = promptops::report::markdown_report(record);
    CHECK_FALSE(has_raw_bidi(md));
    CHECK(md.find("- pass rate 0% pay \\\\u202etxt.exe\\\\u2066 now\\\\u009b2J\n") !=
          std::string::npos);
    CHECK(md.find("```\n" + shown + "\n```\n") != std::string::npos);
  }
  SECTION("HTML") {
    const std::string page = promptops::report::html_report(record);
    CHECK_FALSE(has_raw_bidi(page));
    CHECK(page.find("<pre class=\"out\">" + shown + "</pre>") != std::string::npos);
  }
}

// golden::failure_reason is the one rule: every format shows the same reason for a case, here
// for a case whose optional evaluation failed before its required one (the required one is the
// reason) and for a case in error from its provider (the provider's error is).
TEST_CASE("report: a case's failure reason is the same on the terminal, in JUnit, Markdown and "
          "HTML",
          "[report]") {
  RunJson built;
  built.run_id = "reasons";
  built.results = {
      result("optional-first", "classify", "openai", "fail", "Sure! Here it is",
             ordered_json::array({evaluation("similarity", false, "too far from the reference",
                                             /*required=*/false),
                                  evaluation("contains", false, "no label in the answer")})),
      result("provider-error", "classify", "openai", "error",
             "provider error 529 overloaded after 3 tries"),
  };
  built.summary = summary_json(
      "reasons", ordered_json::array({suite_json("classify", {"openai"}, 0, 1, 1, false)}), false,
      {"classify: pass rate 0.0% (0 of 2) is below the gate's 100.0%"});
  const RunRecord record = built.read();
  const std::map<std::string, std::string> reasons = {
      {"optional-first", "contains: no label in the answer"},
      {"provider-error", "provider error 529 overloaded after 3 tries"}};

  // The terminal's table of failures, as `promptops report` builds it from the results.
  promptops::golden::RunOutcome outcome;
  outcome.run_id = record.run_id;
  outcome.dir = "runs/reasons";
  outcome.summary = record.summary;
  for (const promptops::golden::CaseResult& r : record.results) {
    if (auto failure = promptops::golden::failure_of(r)) {
      outcome.failures.push_back(std::move(*failure));
    }
  }
  const std::string terminal = promptops::report::format_outcome(outcome, 1.0, false);
  const auto xml = parse_xml(promptops::report::junit_xml(record));
  const std::string md = promptops::report::markdown_report(record);
  const std::string page = promptops::report::html_report(record);

  std::map<std::string, std::string> junit;
  for (const Element* test : xml->one("testsuite").all("testcase")) {
    const auto failure = test->all("failure");
    const auto error = test->all("error");
    REQUIRE(failure.size() + error.size() == 1);
    junit[test->attr("name")] = (failure.empty() ? error : failure).front()->attr("message");
  }
  for (const auto& [id, reason] : reasons) {
    INFO(id);
    CHECK(terminal.find("  " + id + "  " + reason + "\n") != std::string::npos);
    CHECK(junit[id] == reason);
    const std::string error = id == "provider-error" ? "**error** " : "";
    CHECK(md.find("| classify | openai | " + id + " | " + error + reason + " |\n") !=
          std::string::npos);
    CHECK(page.find("<span class=\"id\">" + id + "</span><span class=\"rs\">" + reason +
                    "</span></summary>") != std::string::npos);
  }
}

TEST_CASE("report::progress_bar, the bar's text for cases ended of all", "[report]") {
  using promptops::report::progress_bar;
  CHECK(progress_bar(0, 10) == "[..............................] 0/10 cases");
  CHECK(progress_bar(5, 10) == "[###############...............] 5/10 cases");
  CHECK(progress_bar(10, 10) == "[##############################] 10/10 cases");
  CHECK(progress_bar(0, 0) == "[..............................] 0/0 cases");
}

TEST_CASE("report: a failed case shows its tool calls, stop reason and refusal, escaped",
          "[report]") {
  RunJson built;
  built.run_id = "facts";
  ordered_json tool =
      result("tool", "classify", "openai", "fail", "",
             ordered_json::array(
                 {evaluation("contains", false, "the model called tools instead of answering")}));
  tool["finish_reason"] = "tool_calls";
  tool["tool_calls"] = ordered_json::array(
      {{{"id", "call_1"}, {"name", "get_weather"}, {"arguments", {{"city", "<b>Paris</b>"}}}}});
  ordered_json refused = result("refused", "classify", "anthropic", "fail", "",
                                ordered_json::array({evaluation("contains", false, "refused")}));
  refused["finish_reason"] = "refusal";
  refused["vendor_finish_reason"] = "refusal";
  refused["refusal"] = "I can't <script>help</script>";
  ordered_json cut = result("cut", "classify", "anthropic", "fail", "Paris is",
                            ordered_json::array({evaluation("contains", false, "cut")}));
  cut["finish_reason"] = "length";
  cut["vendor_finish_reason"] = "max_tokens";
  built.results = {tool, refused, cut};
  built.summary = summary_json(
      "facts",
      ordered_json::array({suite_json("classify", {"openai", "anthropic"}, 0, 3, 0, false)}), false,
      {});
  const RunRecord record = built.read();
  const std::string md = promptops::report::markdown_report(record);
  const std::string page = promptops::report::html_report(record);
  CHECK(page.find(
            "tool call: get_weather({&quot;city&quot;:&quot;&lt;b&gt;Paris&lt;/b&gt;&quot;})") !=
        std::string::npos);
  CHECK(page.find("refused: I can&apos;t &lt;script&gt;help&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("finish_reason length (max_tokens)") != std::string::npos);
  CHECK(page.find("<script>help") == std::string::npos);
  CHECK(md.find("tool call: get_weather({\"city\":\"<b>Paris</b>\"})") != std::string::npos);
  CHECK(md.find("finish_reason length (max_tokens)") != std::string::npos);
}
