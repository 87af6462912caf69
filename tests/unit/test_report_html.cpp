#include "report/html.hpp"
#include "report/run_record.hpp"
#include "tests/support/run_fixture.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/command.hpp"
#include "util/hash.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using promptops::report::BaselineOutputs;
using promptops::report::html_report;
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
using ordered_json = nlohmann::ordered_json;

namespace {

// The text between the first `open` after `from` and the next `close`; throws if missing.
std::string between(const std::string& text, const std::string& open, const std::string& close,
                    std::size_t from = 0) {
  const std::size_t start = text.find(open, from);
  if (start == std::string::npos) {
    throw std::runtime_error("no \"" + open + "\" in the page");
  }
  const std::size_t end = text.find(close, start + open.size());
  if (end == std::string::npos) {
    throw std::runtime_error("no \"" + close + "\" after \"" + open + "\"");
  }
  return text.substr(start + open.size(), end - start - open.size());
}

// The row of case `id` (its <details class="case"> up to its end).
std::string row_of(const std::string& page, const std::string& id) {
  const std::size_t at = page.find("<span class=\"id\">" + id + "</span>");
  if (at == std::string::npos) {
    throw std::runtime_error("no row for case " + id);
  }
  const std::size_t start = page.rfind("<details class=\"case ", at);
  const std::size_t end = page.find("</div></details>\n", at);
  return page.substr(start, end - start);
}

// How many <details> tags are open.
std::size_t open_details(const std::string& page) {
  std::size_t n = 0;
  for (std::size_t at = page.find("<details"); at != std::string::npos;
       at = page.find("<details", at + 1)) {
    n += page.substr(at, page.find('>', at) - at).find(" open") != std::string::npos ? 1 : 0;
  }
  return n;
}

bool valid_utf8(const std::string& text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned b = p[i];
    const std::size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
    if (len == 0 || b > 0xF4 || i + len > n) {
      return false;
    }
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

// The page's markup outside <script> and <style>: every tag's name must be one the page uses,
// and no tag may carry an event handler, a source or a link that leaves the page. An output
// that became markup would show up here as an unknown tag or attribute.
void check_markup(const std::string& page) {
  static const std::set<std::string> k_tags = {
      "!DOCTYPE", "html",  "head", "meta", "title",   "style",   "body",   "header",  "h1",
      "h2",       "p",     "code", "b",    "span",    "ul",      "li",     "section", "table",
      "tr",       "th",    "td",   "a",    "details", "summary", "div",    "label",   "select",
      "option",   "input", "pre",  "del",  "ins",     "i",       "footer", "script"};
  std::size_t pos = 0;
  while ((pos = page.find('<', pos)) != std::string::npos) {
    const std::size_t end = page.find('>', pos);
    REQUIRE(end != std::string::npos);
    const std::string tag = page.substr(pos + 1, end - pos - 1);
    const std::string name =
        tag.substr(tag[0] == '/' ? 1 : 0,
                   tag.find_first_of(" />", tag[0] == '/' ? 1 : 0) - (tag[0] == '/' ? 1 : 0));
    INFO("tag <" << tag << ">");
    CHECK(k_tags.count(name) == 1);
    for (const char* bad :
         {" on", "src=", "href=\"h", "href=\"/", "srcdoc", "style=", "url(", "javascript:"}) {
      CHECK(tag.find(bad) == std::string::npos);
    }
    if (tag == "script" || tag == "style") {
      pos = page.find("</" + tag + ">", end);
      REQUIRE(pos != std::string::npos);
    } else {
      pos = end + 1;
    }
  }
}

std::string base64(const std::string& bytes) {
  static const char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t bits = 0;
  unsigned value = 0;
  for (const char c : bytes) {
    value = (value << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += k_alphabet[(value >> bits) & 63];
    }
  }
  if (bits > 0) {
    out += k_alphabet[(value << (6 - bits)) & 63];
  }
  while (out.size() % 4 != 0) {
    out += '=';
  }
  return out;
}

// The SHA-256 of `text` in base64, as a CSP hash source wants it (recomputed here from the hex
// digest, independently of the page's code).
std::string sha256_base64(const std::string& text) {
  const std::string hex = promptops::util::sha256_hex(text);
  std::string bytes;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return base64(bytes);
}

// Payloads that would change the page if they ever ran: the browser test looks for their
// effects ("PW" "NED" is split so that the payload's own text never contains the word).
const std::vector<std::string> k_payloads = {
    "<script>alert(1)</script>",
    "<script>document.body.setAttribute('data-'+'pwned','1')</script>",
    "<img src=x onerror=\"document.title='PW'+'NED'\">",
    "<img src=x onerror=alert(1)>",
    "</script><script>document.title='PW'+'NED'</script>",
    "\"><svg onload=\"document.body.setAttribute('data-'+'pwned','2')\">",
    "' onmouseover='alert(1)' x='",
    "</details></div><iframe srcdoc=\"<script>parent.document.title='PW'+'NED'</script>\">",
    "line\xE2\x80\xA8separator\xE2\x80\xA9paragraph",
    "bad \xff\xfe bytes \xc3\x28 and \xed\xa0\x80 a surrogate",
    "\x1b[31mred\x1b[0m <!-- comment --> <![CDATA[ x ]]> &amp; &lt;",
};

std::string all_payloads() {
  std::string out;
  for (const auto& p : k_payloads) {
    out += p + "\n";
  }
  return out;
}

// A run whose every piece of text (ids, outputs, reasons, errors, gate reasons, drift and
// provider-change messages, suite and provider names) carries the payloads. Built in memory:
// a results.jsonl line could not hold the invalid UTF-8.
RunRecord hostile_record() {
  const std::string hostile = all_payloads();
  RunJson record;
  record.run_id = "hostile-run";
  record.run = ordered_json{{"run_id", "hostile-run"}, {"started", "2026-01-02T03:04:05Z"}};
  for (std::size_t i = 0; i < k_payloads.size(); ++i) {
    const std::string id = "p" + std::to_string(i) + " " + k_payloads[i];
    record.results.push_back(result(id, "classify", "openai", "fail", k_payloads[i],
                                    ordered_json::array({evaluation("contains", false, hostile)})));
  }
  record.results.push_back(result("all", "classify", "openai", "pass", hostile,
                                  ordered_json::array({evaluation(hostile, true, hostile)})));
  record.results.push_back(result("err " + hostile, "classify", "openai", "error", hostile));
  record.results.push_back(result("x", hostile, hostile, "fail", hostile));
  ordered_json baselines = ordered_json::array({{{"provider", "openai"},
                                                 {"file", hostile},
                                                 {"compared", 2},
                                                 {"regressed", {"p0 " + k_payloads[0]}},
                                                 {"fixed", ordered_json::array()},
                                                 {"still_failing", 0},
                                                 {"changed_outputs", 1}}});
  record.summary =
      summary_json("hostile-run",
                   ordered_json::array(
                       {suite_json("classify", {"openai"}, 1, 11, 1, false, baselines, {hostile}),
                        suite_json(hostile, {hostile}, 0, 1, 0, false)}),
                   false, {hostile, "second reason " + k_payloads[2]});
  const ordered_json finding = {{"suite", hostile},    {"provider", hostile},  {"feature", hostile},
                                {"baseline", hostile}, {"candidate", hostile}, {"cases", {hostile}},
                                {"message", hostile}};
  record.summary["drift"] = ordered_json::array({finding});
  record.summary["provider_changes"] = ordered_json::array({finding});
  return record.read();
}

BaselineOutputs hostile_baseline() {
  BaselineOutputs baseline;
  baseline.outputs[{"classify", "openai", "all"}] = "before\n" + all_payloads() + "</pre>";
  baseline.outputs[{"classify", "openai", "p1 " + k_payloads[1]}] = k_payloads[2];
  return baseline;
}

// Run Debian's chromium headless on `page` and return the DOM it ends with. FAILs (not skips)
// when chromium is missing: CI has it (scripts/install-deps).
std::string chromium_dom(const TempDir& dir, const std::string& page,
                         const std::string& fragment = "") {
  const std::filesystem::path chromium = "/usr/bin/chromium";
  if (!std::filesystem::exists(chromium)) {
    FAIL("/usr/bin/chromium is not installed: the HTML report's browser test needs it "
         "(apt-get install --no-install-recommends chromium; scripts/install-deps does)");
  }
  const auto file = dir.write("report.html", page);
  const auto result = promptops::util::run_command(
      {chromium.string(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
       "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
       "--user-data-dir=" + (dir.path() / "profile").string(), "--virtual-time-budget=2000",
       "--dump-dom", "file://" + file.string() + fragment},
      "", 60, dir.path());
  INFO("chromium stderr: " << result.err.substr(0, 4000) << result.failure);
  REQUIRE_FALSE(result.timed_out);
  REQUIRE(result.exit_code == 0);
  REQUIRE(result.out.find("</html>") != std::string::npos);
  return result.out;
}

} // namespace

TEST_CASE("report::html_report, the verdict first, then drift, regressions and the cases",
          "[report][html]") {
  TempDir dir;
  const RunRecord run = load_run(write_mixed_run(dir));
  BaselineOutputs baseline;
  baseline.outputs[{"classify", "openai", "c2"}] = "{\"label\": \"billing\"}";  // changed
  baseline.outputs[{"classify", "openai", "c10"}] = "{\"label\": \"billing\"}"; // same
  const std::string page = html_report(run, baseline);

  CHECK(page.rfind("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", 0) ==
        0);
  CHECK(page.find("<title>promptops: gate FAILED \xC2\xB7 20260102-030405-abcd</title>") !=
        std::string::npos);
  // Sections in order: verdict and gate reasons, drift, provider changes, regressions, suites,
  // cases.
  const std::vector<std::string> order = {
      "<header class=\"verdict\"><h1>\xE2\x9C\x98 promptops: gate FAILED</h1>",
      std::string("<b>5 cases</b>: <span class=\"pass\">2 pass</span>, <span class=\"fail\">2 "
                  "fail</span>, ") +
          "<span class=\"error\">1 error</span> (40.0% pass)",
      "<li>classify: pass rate 50.0% (2 of 4) is below the gate&apos;s 100.0%</li>",
      "<section id=\"drift\"><h2>Format drift (1)</h2>",
      std::string("<b>classify on openai</b> (code_fence): 2 of 2 outputs now wrap JSON in ") +
          "```json fences; baseline 0 of 2",
      "<section id=\"provider-changes\"><h2>Provider changes (1)</h2>",
      "<section id=\"baseline\"><h2>Against the baseline</h2>",
      "<h2 id=\"regressions\">Regressions (1)</h2>",
      std::string("<td>classify on openai</td><td><a href=\"#case-1\">c2</a></td>") +
          "<td>is_json: not JSON: unexpected &apos;S&apos;</td>",
      "<section id=\"suites\"><h2>Suites</h2>",
      "<section id=\"cases\"><h2>Cases (5)</h2>",
      "<select id=\"f-status\">",
      std::string("<select id=\"f-suite\"><option value=\"\">all suites</option>") +
          "<option value=\" 0 1 \">classify</option><option value=\" 2 \">summarize</option>" +
          "</select>",
      std::string("<select id=\"f-provider\"><option value=\"\">all providers</option>") +
          "<option value=\" 0 2 \">openai</option><option value=\" 1 \">anthropic</option>" +
          "</select>",
      "<input id=\"f-text\" type=\"search\"",
  };
  std::size_t at = 0;
  for (const auto& part : order) {
    INFO(part);
    const std::size_t found = page.find(part, at);
    REQUIRE(found != std::string::npos);
    at = found;
  }

  // A row per case, in group order (c2 before c10), each folded.
  CHECK(count_of(page, "<details class=\"case ") == 5);
  CHECK(open_details(page) == 0);
  CHECK(page.find("<span class=\"id\">c2</span>") < page.find("<span class=\"id\">c10</span>"));
  const std::string c2 = row_of(page, "c2");
  CHECK(c2.rfind("<details class=\"case fail\" id=\"case-1\" data-g=\"0\"><summary><b>fail</b>"
                 "<span>classify on openai</span><span class=\"id\">c2</span><span class=\"rs\">"
                 "<b class=\"tag fail\">regressed</b> <b class=\"tag\">changed</b> is_json: not "
                 "JSON",
                 0) == 0);
  // Its evaluations (the optional one marked), its output and the folded diff.
  CHECK(c2.find("<li><b class=\"fail\">FAIL</b> <code>similarity</code> (score 0.00, not "
                "required): 0.41 &lt; 0.8</li>") != std::string::npos);
  CHECK(c2.find("<pre class=\"out\">Sure! Here is the JSON</pre>") != std::string::npos);
  CHECK(c2.find("<details class=\"diff\"><summary>Changed against the baseline: 1 line removed, "
                "1 line added (- baseline, + this run)</summary><pre class=\"d\"><del>- "
                "{&quot;label&quot;: &quot;billing&quot;}</del><ins>+ Sure! Here is the "
                "JSON</ins></pre></details>") != std::string::npos);
  // Unchanged output: no diff, no tag.
  const std::string c10 = row_of(page, "c10");
  CHECK(c10.rfind("<details class=\"case pass\" id=\"case-2\" data-g=\"0\">", 0) == 0);
  CHECK(c10.find("diff") == std::string::npos);
  CHECK(c10.find("changed") == std::string::npos);
  // The provider error: its message, no output.
  const std::string c1 = row_of(page, "c1");
  CHECK(c1.rfind("<details class=\"case error\" id=\"case-3\" data-g=\"1\">", 0) == 0);
  CHECK(c1.find("<p class=\"error\"><b>error</b>: provider error 529 overloaded after 3 "
                "tries</p>") != std::string::npos);
  CHECK(c1.find("No output: the provider did not answer.") != std::string::npos);
  CHECK(page.find("1 output differs from the baseline.") != std::string::npos);
  CHECK(count_of(page, "<details class=\"diff\">") == 1);
  check_markup(page);
}

TEST_CASE("report::html_report, a passing run without baseline", "[report][html]") {
  RunJson record;
  record.run_id = "ok";
  record.results.push_back(result("a", "s", "p", "pass", "fine"));
  record.summary = summary_json("ok", ordered_json::array({suite_json("s", {"p"}, 1, 0, 0, true)}),
                                true, ordered_json::array());
  const std::string page = html_report(record.read());
  CHECK(
      page.find("<header class=\"verdict passed\"><h1>\xE2\x9C\x94 promptops: gate passed</h1>") !=
      std::string::npos);
  CHECK(page.find("No baseline to compare with") != std::string::npos);
  CHECK(page.find("id=\"drift\"") == std::string::npos);
  CHECK(page.find("<details class=\"diff\">") == std::string::npos);
  CHECK(count_of(page, "<details class=\"case ") == 1);
  check_markup(page);
}

TEST_CASE("report::html_report, hostile model output stays escaped text", "[report][html]") {
  const std::string page = html_report(hostile_record(), hostile_baseline());

  CHECK(valid_utf8(page));
  CHECK(page.find("\xE2\x80\xA8") == std::string::npos);
  CHECK(page.find("\xE2\x80\xA9") == std::string::npos);
  CHECK(page.find('\x1b') == std::string::npos);
  // One script, ours, with no attributes; nothing of the payloads as markup.
  CHECK(count_of(page, "<script") == 1);
  CHECK(count_of(page, "</script") == 1);
  CHECK(count_of(page, "<script>") == 1);
  for (const char* raw :
       {"<img", "<svg", "<iframe", "<!--", "<![CDATA[", "'data-'+'pwned'", "' onmouseover='"}) {
    INFO(raw);
    CHECK(page.find(raw) == std::string::npos);
  }
  // ... but all of it as text.
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("&lt;img src=x onerror=&quot;document.title=&apos;PW&apos;+&apos;NED&apos;"
                  "&quot;&gt;") != std::string::npos);
  CHECK(page.find("&lt;/script&gt;&lt;script&gt;") != std::string::npos);
  CHECK(page.find("&quot;&gt;&lt;svg onload=") != std::string::npos);
  CHECK(page.find("line&#8232;separator&#8233;paragraph") != std::string::npos);
  CHECK(page.find("bad \xEF\xBF\xBD\xEF\xBF\xBD bytes") != std::string::npos);
  CHECK(page.find("\\x1b[31mred\\x1b[0m &lt;!-- comment --&gt; &lt;![CDATA[ x ]]&gt; "
                  "&amp;amp; &amp;lt;") != std::string::npos);
  // The diff escapes too.
  CHECK(count_of(page, "<details class=\"diff\">") == 2);
  CHECK(page.find("<del>- &lt;/pre&gt;</del>") != std::string::npos);
  // Everything between tags is known markup.
  check_markup(page);
  // The script is the last thing in the body and holds nothing of the run.
  const std::string script = between(page, "<script>", "</script>");
  CHECK(script.find("PW") == std::string::npos);
  const std::string end = "</script>\n</body>\n</html>\n";
  CHECK(page.rfind(end) + end.size() == page.size());
}

TEST_CASE("report::html_report, a Content-Security-Policy that allows only its own script",
          "[report][html]") {
  TempDir dir;
  const std::string page = html_report(load_run(write_mixed_run(dir)));
  const std::string csp =
      between(page, "<meta http-equiv=\"Content-Security-Policy\" content=\"", "\">");
  const std::string script = between(page, "<script>", "</script>");
  CHECK(csp == "default-src 'none'; script-src 'sha256-" + sha256_base64(script) +
                   "'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'");
  // The policy comes before anything it governs: right after the charset.
  CHECK(page.find("<meta http-equiv=\"Content-Security-Policy\"") < page.find("<title>"));
  CHECK(page.find("<meta charset=\"utf-8\">") < page.find("Content-Security-Policy"));
  // Self-contained: nothing is loaded from anywhere.
  for (const char* remote : {"http:", "https:", "//", "@import", "url(", "src=", "<link"}) {
    INFO(remote);
    CHECK(page.find(remote) == std::string::npos);
  }
  // The hash helper on known vectors.
  CHECK(promptops::report::csp_script_hash("") ==
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
  CHECK(promptops::report::csp_script_hash("abc") ==
        "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='");
  CHECK(sha256_base64("abc") == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

TEST_CASE("report::html_report, long outputs are cut and long diffs folded short",
          "[report][html]") {
  RunJson record;
  record.run_id = "long";
  std::string lines;
  for (int i = 0; i < 400; ++i) {
    lines += "line " + std::to_string(i) + "\n";
  }
  std::string changed = lines;
  changed.replace(changed.find("line 200\n"), 9, "LINE 200\n");
  record.results.push_back(result("big", "s", "p", "fail", std::string(20000, 'o') + "\xC3\xA9"));
  record.results.push_back(result("lines", "s", "p", "pass", changed));
  // One long line against another, and 5000 short lines against 5000 others.
  record.results.push_back(result("wide", "s", "p", "pass", std::string(50000, 'w')));
  std::string many_before;
  std::string many_after;
  for (int i = 0; i < 5000; ++i) {
    many_before += "b" + std::to_string(i) + "\n";
    many_after += "a" + std::to_string(i) + "\n";
  }
  record.results.push_back(result("many", "s", "p", "pass", many_after));
  // One line changed near the end of 3000.
  std::string deep;
  for (int i = 0; i < 3000; ++i) {
    deep += "row " + std::to_string(i) + "\n";
  }
  std::string deep_changed = deep;
  deep_changed.replace(deep_changed.find("row 2900\n"), 9, "ROW 2900\n");
  record.results.push_back(result("deep", "s", "p", "pass", deep_changed));
  record.summary =
      summary_json("long", ordered_json::array({suite_json("s", {"p"}, 4, 1, 0, false)}), false,
                   ordered_json::array());
  BaselineOutputs baseline;
  baseline.outputs[{"s", "p", "lines"}] = lines;
  baseline.outputs[{"s", "p", "wide"}] = std::string(50000, 'v');
  baseline.outputs[{"s", "p", "many"}] = many_before;
  baseline.outputs[{"s", "p", "deep"}] = deep;
  const std::string page = html_report(record.read(), baseline);

  const std::string big = between(row_of(page, "big"), "<pre class=\"out\">", "</pre>");
  CHECK(big.size() < promptops::report::k_html_max_output_bytes + 100);
  CHECK(big.find("[... output cut at 4 KiB; the whole output is in results.jsonl]") !=
        std::string::npos);
  // One changed line of 400: three lines of context each side, the rest collapsed.
  const std::string diff = between(row_of(page, "lines"), "<pre class=\"d\">", "</pre>");
  CHECK(diff == "<i>\xE2\x8B\xAF 197 unchanged lines</i><span>  line 197</span><span>  line "
                "198</span><span>  line 199</span><del>- line 200</del><ins>+ LINE 200</ins>"
                "<span>  line 201</span><span>  line 202</span><span>  line 203</span><i>\xE2\x8B"
                "\xAF 197 unchanged lines</i>");
  // A diff shows at most about 8 KiB of lines, each cut at 1 KiB, and says what it compared.
  const std::string wide = between(row_of(page, "wide"), "<pre class=\"d\">", "</pre>");
  CHECK(wide.size() < 3000);
  CHECK(count_of(wide, " [... line cut]") == 2);
  CHECK(between(row_of(page, "deep"), "<pre class=\"d\">", "</pre>") ==
        "<i>\xE2\x8B\xAF 2897 unchanged lines</i><span>  row 2897</span><span>  row 2898</span>"
        "<span>  row 2899</span><del>- row 2900</del><ins>+ ROW 2900</ins><span>  row 2901</span>"
        "<span>  row 2902</span><span>  row 2903</span><i>\xE2\x8B\xAF 97 unchanged lines</i>");
  const std::string many = row_of(page, "many");
  CHECK(many.find("Changed against the baseline: at least 300 lines removed, 300 lines added") !=
        std::string::npos);
  const std::string many_diff = between(many, "<pre class=\"d\">", "</pre>");
  CHECK(many_diff.size() < 12000);
  CHECK(many_diff.find("[... diff cut; the outputs are in results.jsonl and the baseline]") !=
        std::string::npos);
  CHECK(many_diff.find("[the outputs differ further on: only 300 lines of each were compared past "
                       "their common start and end]") != std::string::npos);
}

TEST_CASE("report::html_report, 10000 cases stay under 5 MB", "[report][html]") {
  RunJson record;
  record.run_id = "huge";
  BaselineOutputs baseline;
  ordered_json regressed = ordered_json::array();
  std::size_t changed = 0;
  std::size_t pass = 0;
  std::size_t fail = 0;
  std::size_t error = 0;
  for (std::size_t i = 0; i < 10000; ++i) {
    const std::string id = "case-" + std::to_string(i);
    const std::string status = i % 10 == 3 ? "fail" : i % 50 == 7 ? "error" : "pass";
    (status == "pass" ? pass : status == "fail" ? fail : error) += 1;
    std::string output = "{\"answer\": \"" + std::string(500 + (i * 37) % 5000, 'a') + "\"}\n";
    output += "line two of case " + std::to_string(i) + "\n";
    record.results.push_back(
        result(id, "classify", "openai", status, status == "error" ? "timeout after 60 s" : output,
               ordered_json::array({evaluation("is_json", true, "valid JSON"),
                                    evaluation("contains", status == "pass",
                                               "expected \"billing\" somewhere in the answer"),
                                    evaluation("llm_judge", true, std::string(300, 'j'), false)})));
    if (i % 3 == 0) {
      changed += status == "error" ? 0 : 1; // no output, nothing to compare
      baseline.outputs[{"classify", "openai", id}] = "{\"answer\": \"b\"}\nline two\n";
    }
    if (status == "fail" && i % 9 == 0) {
      regressed.push_back(id);
    }
  }
  ordered_json baselines = ordered_json::array({{{"provider", "openai"},
                                                 {"file", "golden/baselines/classify/openai.jsonl"},
                                                 {"compared", 10000},
                                                 {"regressed", regressed},
                                                 {"fixed", ordered_json::array()},
                                                 {"still_failing", fail - regressed.size()},
                                                 {"changed_outputs", 3334}}});
  record.summary = summary_json("huge",
                                ordered_json::array({suite_json("classify", {"openai"}, pass, fail,
                                                                error, false, baselines)}),
                                false, {"classify: pass rate below the gate"});
  record.summary["regressions"] = regressed;

  const std::string page = html_report(record.read(), baseline);
  INFO("page size " << page.size());
  CHECK(page.size() < 5'000'000);
  CHECK(page.size() <= promptops::report::k_html_max_bytes);
  CHECK(count_of(page, "<details class=\"case ") == 10000);
  CHECK(count_of(page, "<details class=\"diff\">") == promptops::report::k_html_max_diffs);
  CHECK(page.find(std::to_string(changed) +
                  " outputs differ from the baseline; the diffs of 200 are shown") !=
        std::string::npos);
  CHECK(page.find("To keep the page under 4.5 MB") != std::string::npos);
  // The regressions got their details first; passing cases are the ones left short.
  const std::string regressed_row = row_of(page, regressed[0].get<std::string>());
  CHECK(regressed_row.find("<pre class=\"out\">") != std::string::npos);
  CHECK(regressed_row.find("<details class=\"diff\">") != std::string::npos);
  CHECK(row_of(page, "case-9999").rfind("<details class=\"case pass cut\"", 0) == 0);
  CHECK(count_of(page, "<h2 id=\"regressions\">Regressions (" + std::to_string(regressed.size()) +
                           ")</h2>") == 1);
  CHECK(page.rfind("</html>\n") + 8 == page.size());
  CHECK(open_details(page) == 0);
}

TEST_CASE("report::html_report, a run too large for its rows lists the failures first",
          "[report][html]") {
  RunJson record;
  record.run_id = "vast";
  const std::string long_id(150, 'i');
  for (std::size_t i = 0; i < 15000; ++i) {
    const std::string status = i % 100 == 42 ? "fail" : "pass";
    record.results.push_back(result(long_id + std::to_string(i), "s", "p", status, "out"));
  }
  record.summary = summary_json(
      "vast", ordered_json::array({suite_json("s", {"p"}, 14850, 150, 0, false)}), false, {"x"});
  const std::string page = html_report(record.read());
  INFO("page size " << page.size());
  CHECK(page.size() <= promptops::report::k_html_max_bytes);
  const std::size_t rows = count_of(page, "<details class=\"case ");
  CHECK(rows > 5000);
  CHECK(rows < 15000);
  CHECK(count_of(page, "<details class=\"case fail") == 150);
  CHECK(page.find(std::to_string(15000 - rows) +
                  " cases (passing ones first) are not listed at all") != std::string::npos);
  CHECK(page.find("<h2>Cases (15000)</h2>") != std::string::npos);
}

TEST_CASE("report::html_report, in headless chromium it renders and no payload runs",
          "[report][html][browser]") {
  TempDir dir;
  const std::string page = html_report(hostile_record(), hostile_baseline());

  SECTION("the page as written") {
    const std::string dom = chromium_dom(dir, page, "#case-3");
    // It rendered, and its own script ran (it marks the body and fills in the count).
    CHECK(dom.find("<body data-ready=\"1\">") != std::string::npos);
    CHECK(dom.find("14 of 14 cases shown") != std::string::npos);
    // The case a link points to is opened.
    CHECK(dom.find("id=\"case-3\" data-g=\"0\" open=\"\">") != std::string::npos);
    CHECK(count_of(dom, " open=\"\"") == 1);
    // No payload ran.
    CHECK(dom.find("PWNED") == std::string::npos);
    CHECK(dom.find("data-pwned") == std::string::npos);
    CHECK(dom.find("<title>promptops: gate FAILED \xC2\xB7 hostile-run</title>") !=
          std::string::npos);
  }
  SECTION("markup slipped in past the escaping is still blocked by the policy") {
    // As if an output had reached the page raw: the CSP alone must stop it.
    std::string broken = page;
    const std::string injected =
        "<img src=x onerror=\"document.title='PW'+'NED'\">"
        "<script>document.body.setAttribute('data-'+'pwned','1')</script>"
        "<svg onload=\"document.body.setAttribute('data-'+'pwned','2')\"></svg>";
    broken.insert(broken.find("<body>") + 6, injected);
    const std::string dom = chromium_dom(dir, broken);
    CHECK(dom.find("<body data-ready=\"1\">") != std::string::npos);
    CHECK(dom.find("PWNED") == std::string::npos);
    CHECK(dom.find("data-pwned") == std::string::npos);
  }
}
