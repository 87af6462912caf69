#include "report/html.hpp"

#include "report/escape.hpp"
#include "report/reply_facts.hpp"
#include "util/hash.hpp"
#include "util/line_diff.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace promptops::report {

namespace {

constexpr std::size_t k_max_cell_bytes = 200;    // an id or a reason in a case row
constexpr std::size_t k_max_reason_bytes = 1000; // gate reasons, findings, evaluation reasons
constexpr std::size_t k_max_list_items = 200;    // regressions listed, findings, gate reasons
constexpr std::size_t k_max_evaluations = 50;    // per case
constexpr std::size_t k_max_diff_input = 65536;  // bytes of each text compared
constexpr std::size_t k_max_diff_lines = 300;    // differing lines of each text given to dtl
constexpr std::size_t k_max_diff_line = 1024;    // bytes of one diff line shown
constexpr std::size_t k_max_diff_shown = 8192;   // bytes of HTML of a diff's lines, about
constexpr std::size_t k_diff_context = 3;        // unchanged lines around a change
constexpr std::size_t k_notes_reserve = 2048;    // the notes above the case table

// A row starts with k_row_open, its status and its other attributes. A row whose details did
// not all fit gets the class k_cut (the style sheet adds the note: 4 bytes a row, not a
// sentence). Its details go between k_body_open and k_row_close.
constexpr std::string_view k_row_open = "<details class=\"case ";
constexpr std::string_view k_cut = " cut";
constexpr std::string_view k_body_open = "<div>";
constexpr std::string_view k_row_close = "</div></details>\n";
constexpr std::size_t k_row_reserve = k_cut.size() + k_body_open.size() + k_row_close.size();
constexpr std::size_t k_output_preview_bytes = 1024; // outputs first get this much, then 4 KiB

// The page's own script: filters the case rows (by status, by suite and provider, whose
// options list their groups as " 0 2 ", and by text in id, reason and tags), counts what is
// shown, opens the case a link points to, and marks the body data-ready. It reads the case
// data from the rendered rows, so no run data is ever script. ASCII only: its CSP hash is
// taken over these exact bytes.
constexpr std::string_view k_script = R"js(
(function () {
  'use strict';
  var d = document;
  var rows = [].slice.call(d.querySelectorAll('details.case'));
  var hay = rows.map(function (r) {
    return [].map.call(r.querySelectorAll('summary .id, summary .rs'),
      function (e) { return e.textContent; }).join('\n').toLowerCase();
  });
  var status = rows.map(function (r) {
    return r.classList.contains('pass') ? 'pass' : r.classList.contains('fail') ? 'fail' : 'error';
  });
  var group = rows.map(function (r) { return ' ' + r.getAttribute('data-g') + ' '; });
  var st = d.getElementById('f-status');
  var su = d.getElementById('f-suite');
  var pr = d.getElementById('f-provider');
  var tx = d.getElementById('f-text');
  var count = d.getElementById('f-count');
  function apply() {
    var s = st.value, u = su.value, p = pr.value, t = tx.value.trim().toLowerCase(), n = 0;
    for (var i = 0; i < rows.length; i++) {
      var k = status[i];
      var ok = (s === 'all' || (s === 'notpass' ? k !== 'pass' : k === s)) &&
        (u === '' || u.indexOf(group[i]) !== -1) &&
        (p === '' || p.indexOf(group[i]) !== -1) &&
        (t === '' || hay[i].indexOf(t) !== -1);
      rows[i].hidden = !ok;
      if (ok) { n++; }
    }
    count.textContent = n + ' of ' + rows.length + ' cases shown';
  }
  function reveal() {
    var id = location.hash.slice(1);
    var e = id ? d.getElementById(id) : null;
    if (!e || !e.matches('details.case')) { return; }
    if (e.hidden) { st.value = 'all'; su.value = ''; pr.value = ''; tx.value = ''; apply(); }
    e.open = true;
    e.scrollIntoView();
  }
  [st, su, pr].forEach(function (e) { e.addEventListener('change', apply); });
  tx.addEventListener('input', apply);
  window.addEventListener('hashchange', reveal);
  d.addEventListener('click', function (ev) {
    var a = ev.target.closest ? ev.target.closest('a[href^="#case-"]') : null;
    if (a && a.getAttribute('href') === location.hash) { reveal(); }
  });
  apply();
  reveal();
  d.body.setAttribute('data-ready', '1');
})();
)js";

constexpr std::string_view k_style = R"css(
:root{color-scheme:light dark;--fg:#1f2328;--bg:#fff;--mut:#59636e;--bd:#d1d9e0;--code:#f6f8fa;
--pass:#1a7f37;--fail:#cf222e;--err:#9a6700;--ins:#dafbe1;--del:#ffebe9}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--mut:#9198a1;--bd:#3d444d;
--code:#151b23;--pass:#3fb950;--fail:#f85149;--err:#d29922;--ins:#12361f;--del:#4a1a1e}}
[hidden]{display:none!important}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;max-width:1280px;padding:1em 1.5em 3em}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:1.4em 0 .5em;
border-bottom:1px solid var(--bd);padding-bottom:.2em}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--code);padding:0 .25em;border-radius:3px;overflow-wrap:anywhere}
pre{background:var(--code);border:1px solid var(--bd);border-radius:4px;padding:.5em .7em;
white-space:pre-wrap;overflow-wrap:anywhere;max-height:32em;overflow:auto;margin:.3em 0}
table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid var(--bd);
padding:.2em .5em;text-align:left;vertical-align:top}td.n{text-align:right}
.verdict{border-left:6px solid var(--fail);padding:.3em 1em;margin-bottom:1em}
.verdict h1{color:var(--fail)}.verdict.passed h1{color:var(--pass)}
.verdict.passed{border-color:var(--pass)}.muted,.note{color:var(--mut)}
.pass,.case.pass>summary>b{color:var(--pass)}.fail,.case.fail>summary>b{color:var(--fail)}
.error,.case.error>summary>b{color:var(--err)}
.filters{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;margin:.6em 0;
position:sticky;top:0;background:var(--bg);padding:.4em 0;z-index:1}
body:not([data-ready]) .filters{display:none}
.filters input{min-width:22em}.filters select{max-width:16em}
.head,details.case>summary{display:grid;grid-template-columns:1.2em 3.6em minmax(7em,16em)
minmax(6em,18em) 1fr;gap:.6em;padding:.2em .3em}
.head{font-weight:600;border-bottom:2px solid var(--bd)}
details.case{border-bottom:1px solid var(--bd);color:var(--fg)}
details.case>summary{cursor:pointer;list-style:none}
details.case>summary::-webkit-details-marker{display:none}
details.case>summary::before{content:"\25B8";color:var(--mut)}
details.case[open]>summary::before{content:"\25BE"}
details.case>summary:hover{background:var(--code)}
summary span{overflow-wrap:anywhere;min-width:0}
.tag{font-size:.8em;border:1px solid;border-radius:3px;padding:0 .3em;font-weight:500}
.case>div{padding:.3em 1em .8em 2em}.case>div ul{margin:.2em 0;padding-left:1.2em}
pre.d>*{display:block;text-decoration:none}pre.d ins{background:var(--ins)}
pre.d del{background:var(--del)}pre.d i{color:var(--mut)}
.case.cut>div::after{display:block;color:var(--mut);margin-top:.3em;
content:"Some details are left out to keep the page small: results.jsonl has them."}
)css";

// Run text for the page: cleaned, cut at `max_bytes` with " [...]", HTML-escaped.
std::string page_text(std::string_view raw, std::size_t max_bytes) {
  return html_escape(clean_cut(raw, max_bytes, " [...]"));
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// A count that may be unknown: "-" then.
std::string count_text(const std::optional<std::int64_t>& count) {
  return count ? std::to_string(*count) : std::string("-");
}

std::string key3(std::string_view a, std::string_view b, std::string_view c) {
  std::string key(a);
  key += '\x1f';
  key += b;
  key += '\x1f';
  key += c;
  return key;
}

// ---------------------------------------------------------------------------------------------
// CSP

std::string base64(const std::vector<unsigned char>& bytes) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const unsigned b0 = bytes[i];
    const unsigned b1 = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    const unsigned b2 = i + 2 < bytes.size() ? bytes[i + 2] : 0;
    const unsigned n = (b0 << 16) | (b1 << 8) | b2;
    out += k_alphabet[(n >> 18) & 63];
    out += k_alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? k_alphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? k_alphabet[n & 63] : '=';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Line diffs

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(start));
      return lines;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}

// What the run is compared with: "run <id>" for `promptops report --against`, else the
// baseline.
std::string reference_of(const golden::RunSummary& summary) {
  return summary.against.empty() ? std::string("the baseline") : "run " + summary.against;
}

// The lines the texts begin and end with in common are matched first; dtl gets at most
// k_max_diff_lines of what is left on each side, which bounds its time (it grows with lines
// times differences) whatever the outputs.
std::string diff_html(std::string_view before_raw, std::string_view after_raw,
                      const std::string& reference) {
  const bool text_cut = before_raw.size() > k_max_diff_input || after_raw.size() > k_max_diff_input;
  const std::vector<std::string> a = split_lines(clean_cut(before_raw, k_max_diff_input, ""));
  const std::vector<std::string> b = split_lines(clean_cut(after_raw, k_max_diff_input, ""));
  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
    ++prefix;
  }
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const auto middle = [prefix, suffix](const std::vector<std::string>& lines, bool& cut_short) {
    const std::size_t n = std::min(lines.size() - prefix - suffix, k_max_diff_lines);
    cut_short = cut_short || n < lines.size() - prefix - suffix;
    return std::vector<std::string>(lines.begin() + static_cast<std::ptrdiff_t>(prefix),
                                    lines.begin() + static_cast<std::ptrdiff_t>(prefix + n));
  };
  bool middle_cut = false;
  const std::vector<std::string> middle_a = middle(a, middle_cut);
  const std::vector<std::string> middle_b = middle(b, middle_cut);
  std::vector<util::LineEdit> ops;
  for (std::size_t i = 0; i < prefix; ++i) {
    ops.push_back({' ', &a[i]});
  }
  for (const util::LineEdit& op : util::edit_script(middle_a, middle_b)) {
    ops.push_back(op);
  }
  if (!middle_cut) {
    for (std::size_t i = a.size() - suffix; i < a.size(); ++i) {
      ops.push_back({' ', &a[i]});
    }
  }

  std::size_t removed = 0;
  std::size_t added = 0;
  std::vector<bool> shown(ops.size(), false);
  for (std::size_t k = 0; k < ops.size(); ++k) {
    if (ops[k].op == ' ') {
      continue;
    }
    (ops[k].op == '-' ? removed : added) += 1;
    const std::size_t from = k > k_diff_context ? k - k_diff_context : 0;
    const std::size_t to = std::min(ops.size(), k + k_diff_context + 1);
    std::fill(shown.begin() + static_cast<std::ptrdiff_t>(from),
              shown.begin() + static_cast<std::ptrdiff_t>(to), true);
  }

  std::string out =
      "<details class=\"diff\"><summary>Changed against " + html_escape(reference) + ": ";
  if (removed + added == 0) {
    out += text_cut ? "the outputs differ after their first 64 KiB (results.jsonl has them)"
                    : "the outputs differ only in bytes that are not valid UTF-8 or in control "
                      "characters";
    out += "</summary></details>";
    return out;
  }
  out += (middle_cut ? "at least " : "") + std::to_string(removed) +
         (removed == 1 ? " line" : " lines") + " removed, " + std::to_string(added) +
         (added == 1 ? " line" : " lines") +
         " added (- baseline, + this run)</summary><pre class=\"d\">";
  std::size_t bytes = 0;
  for (std::size_t k = 0; k < ops.size();) {
    if (!shown[k]) {
      std::size_t run = 0;
      while (k < ops.size() && !shown[k]) {
        ++run;
        ++k;
      }
      out += "<i>\xE2\x8B\xAF " + std::to_string(run) +
             (run == 1 ? " unchanged line</i>" : " unchanged lines</i>");
      continue;
    }
    if (bytes > k_max_diff_shown) {
      out += "<i>[... diff cut; the outputs are in results.jsonl and the baseline]</i>";
      break;
    }
    const util::LineEdit& op = ops[k];
    const char* tag = op.op == '-' ? "del" : op.op == '+' ? "ins" : "span";
    std::string line(1, op.op);
    line += ' ';
    line += util::text::truncate_utf8(*op.line, k_max_diff_line, " [... line cut]");
    const std::string shown_line =
        std::string("<") + tag + ">" + html_escape(line) + "</" + tag + ">";
    bytes += shown_line.size();
    out += shown_line;
    ++k;
  }
  if (middle_cut) {
    out += "<i>[the outputs differ further on: only " + std::to_string(k_max_diff_lines) +
           " lines of each were compared past their common start and end]</i>";
  } else if (text_cut) {
    out += "<i>[only the first 64 KiB of each output were compared]</i>";
  }
  out += "</pre></details>";
  return out;
}

// ---------------------------------------------------------------------------------------------
// The case rows

struct Row {
  const ResultGroup* group = nullptr;
  const golden::CaseResult* result = nullptr;
  std::string status; // pass, fail, error
  std::size_t group_index = 0;
  bool regressed = false;
  bool fixed = false;
  const std::string* baseline_output = nullptr; // set when it differs from the run's output
  int rank = 0;                                 // regressed, fail, error, changed, pass
  std::string anchor;
  std::string head; // <details ...><summary>...</summary>
  std::string evaluations;
  std::string output;
  std::string diff;
  bool cut = false; // some details did not fit
  bool listed = true;
};

std::string row_head(const Row& row) {
  const golden::CaseResult& r = *row.result;
  std::string out =
      std::string(k_row_open) + row.status + "\" id=\"" + row.anchor + "\" data-g=\"" +
      std::to_string(row.group_index) + "\"><summary><b>" + row.status + "</b><span>" +
      page_text(group_name(*row.group), k_max_cell_bytes) + "</span><span class=\"id\">" +
      page_text(r.id, k_max_cell_bytes) + "</span><span class=\"rs\">";
  if (row.regressed) {
    out += "<b class=\"tag fail\">regressed</b> ";
  }
  if (row.fixed) {
    out += "<b class=\"tag pass\">fixed</b> ";
  }
  if (row.baseline_output != nullptr) {
    out += "<b class=\"tag\">changed</b> ";
  }
  out += page_text(golden::failure_reason(r), k_max_cell_bytes) + "</span></summary>";
  return out;
}

// The case's facts: model, latency, score, tokens, cost, whether it came from the cache.
std::string row_facts(const golden::CaseResult& r) {
  std::vector<std::string> facts;
  if (!r.model.empty()) {
    facts.push_back("model <code>" + page_text(r.model, k_max_cell_bytes) + "</code>");
  }
  if (r.latency_ms) {
    facts.push_back(format("%.3f s", *r.latency_ms / 1000));
  }
  if (r.score) {
    facts.push_back(format("score %.2f", *r.score));
  }
  facts.push_back("tokens " + count_text(r.usage.input_tokens) + " in, " +
                  count_text(r.usage.output_tokens) + " out");
  if (r.cost) {
    facts.push_back(format("cost $%.4f", *r.cost));
  }
  if (r.cached) {
    facts.emplace_back("from the cache");
  }
  std::string out = "<p class=\"muted\">";
  for (std::size_t i = 0; i < facts.size(); ++i) {
    out += (i == 0 ? "" : " \xC2\xB7 ") + facts[i];
  }
  out += "</p>";
  return out;
}

// The case's facts, its error and its evaluations.
std::string row_evaluations(const Row& row) {
  const golden::CaseResult& r = *row.result;
  std::string out = row_facts(r);
  if (row.status == "error") {
    out += "<p class=\"error\"><b>error</b>: " +
           page_text(golden::failure_reason(r), k_max_reason_bytes) + "</p>";
  }
  if (!r.evaluations.empty()) {
    out += "<ul>";
    std::size_t n = 0;
    for (const golden::EvaluationResult& e : r.evaluations) {
      if (n++ == k_max_evaluations) {
        out += "<li>and " + std::to_string(r.evaluations.size() - k_max_evaluations) +
               " more (results.jsonl has them)</li>";
        break;
      }
      const char* verdict = e.error ? "error" : e.pass ? "pass" : "fail";
      out += std::string("<li><b class=\"") + verdict + "\">" +
             (e.error  ? "ERROR"
              : e.pass ? "PASS"
                       : "FAIL") +
             "</b> <code>" + page_text(e.type, k_max_cell_bytes) + "</code>";
      out += " (score " + format("%.2f", e.score) + (e.required ? ")" : ", not required)");
      if (!e.reason.empty()) {
        out += ": " + page_text(e.reason, k_max_reason_bytes);
      }
      out += "</li>";
    }
    out += "</ul>";
  }
  return out;
}

// The case's output, cut at `max_bytes`.
std::string row_output(const Row& row, std::size_t max_bytes) {
  const std::optional<std::string>& output = row.result->output;
  if (!output) {
    return "<p class=\"muted\">No output: the provider did not answer.</p>";
  }
  const std::string note =
      max_bytes == k_html_max_output_bytes
          ? "\n[... output cut at 4 KiB; the whole output is in results.jsonl]"
          : "\n[... output cut at " + std::to_string(max_bytes / 1024) +
                " KiB to keep the page small; the whole output is in results.jsonl]";
  std::string out =
      "<pre class=\"out\">" + html_escape(clean_cut(*output, max_bytes, note)) + "</pre>";
  // Tool calls, a refusal, a stop at the token limit: what the text alone does not show.
  if (const std::string facts = reply_facts_text(*row.result); !facts.empty()) {
    out += "<pre class=\"out muted\">" + html_escape(clean_cut(facts, max_bytes, "")) + "</pre>";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The sections above the case table

std::string verdict_section(const RunRecord& run) {
  const golden::RunSummary& summary = run.summary;
  const bool passed = summary.gate_passed;
  std::string out =
      std::string("<header class=\"verdict") + (passed ? " passed" : "") + "\"><h1>" +
      (passed ? "\xE2\x9C\x94 promptops: gate passed" : "\xE2\x9C\x98 promptops: gate FAILED") +
      "</h1>";
  const golden::CaseTotals& totals = summary.totals;
  out += "<p>Run <code>" + html_escape(run.run_id) + "</code> \xC2\xB7 <b>" +
         std::to_string(totals.cases) + " cases</b>: <span class=\"pass\">" +
         std::to_string(totals.pass) + " pass</span>, <span class=\"fail\">" +
         std::to_string(totals.fail) + " fail</span>, <span class=\"error\">" +
         std::to_string(totals.error) + " error</span>";
  if (const auto rate = totals.pass_rate()) {
    out += " (" + percent(*rate) + " pass)";
  }
  if (!run.run.started.empty()) {
    out += " \xC2\xB7 started " + html_escape(run.run.started);
  }
  out += "</p>";
  if (summary.interrupted) {
    out += "<p class=\"fail\"><b>The run was interrupted</b>: complete it with <code>promptops "
           "test --resume " +
           html_escape(run.run_id) + "</code>.</p>";
  }
  const std::vector<std::string>& reasons = summary.gate_reasons;
  if (!reasons.empty()) {
    out += "<ul class=\"reasons\">";
    for (std::size_t n = 0; n < reasons.size(); ++n) {
      if (n == k_max_list_items) {
        out += "<li>and " + std::to_string(reasons.size() - k_max_list_items) + " more</li>";
        break;
      }
      out += "<li>" + page_text(reasons[n], k_max_reason_bytes) + "</li>";
    }
    out += "</ul>";
  }
  out += "<p class=\"muted\">" + usage_line(summary, " ") + "</p>";
  out += "</header>\n";
  return out;
}

// Drift findings or provider changes: "suite on provider (feature): message".
// `none` (HTML) is said when the list is empty; "": the section is left out then.
template <class Finding>
std::string findings_section(const std::vector<Finding>& list, const std::string& id,
                             const std::string& heading, const std::string& none) {
  if (list.empty()) {
    return none.empty() ? std::string()
                        : "<section id=\"" + id + "\"><h2>" + heading + "</h2><p class=\"muted\">" +
                              none + "</p></section>\n";
  }
  std::string out = "<section id=\"" + id + "\"><h2>" + heading + " (" +
                    std::to_string(list.size()) + ")</h2><ul>";
  for (std::size_t n = 0; n < list.size(); ++n) {
    if (n == k_max_list_items) {
      out += "<li>and " + std::to_string(list.size() - k_max_list_items) +
             " more (summary.json has them)</li>";
      break;
    }
    const Finding& f = list[n];
    out += "<li><b>" + page_text(f.suite, k_max_cell_bytes) + " on " +
           page_text(f.provider, k_max_cell_bytes) + "</b>";
    if (!f.feature.empty()) {
      out += " (" + page_text(f.feature, k_max_cell_bytes) + ")";
    }
    out += ": " + page_text(f.message, k_max_reason_bytes) + "</li>";
  }
  out += "</ul></section>\n";
  return out;
}

std::string baseline_section(const golden::RunSummary& summary, const std::vector<Row>& rows) {
  std::string table;
  for (const golden::SuiteSummary& suite : summary.suites) {
    for (const golden::BaselineEntry& b : suite.baselines) {
      table += "<tr><td>" + page_text(suite.name, k_max_cell_bytes) + "</td><td>" +
               page_text(b.provider, k_max_cell_bytes) + "</td><td><code>" +
               page_text(b.file, k_max_cell_bytes) + "</code></td><td class=\"n\">" +
               std::to_string(b.compared) + "</td><td class=\"n fail\">" +
               std::to_string(b.regressed.size()) + "</td><td class=\"n pass\">" +
               std::to_string(b.fixed.size()) + "</td><td class=\"n\">" +
               std::to_string(b.still_failing) + "</td><td class=\"n\">" +
               std::to_string(b.new_cases) + "</td><td class=\"n\">" +
               (b.removed ? std::to_string(*b.removed) : std::string("-")) +
               "</td><td class=\"n\">" + std::to_string(b.changed_outputs) + "</td></tr>";
    }
  }
  std::string out =
      "<section id=\"baseline\"><h2>Against " + html_escape(reference_of(summary)) + "</h2>";
  if (table.empty()) {
    out += "<p class=\"muted\">No baseline to compare with: record one with <code>promptops "
           "baseline record</code>.</p></section>\n";
    return out;
  }
  out += "<table><tr><th>suite</th><th>provider</th><th>baseline</th><th>compared</th>"
         "<th>regressed</th><th>fixed</th><th>still failing</th><th>new</th><th>removed</th>"
         "<th>changed outputs</th></tr>" +
         table + "</table>";

  std::size_t regressed = 0;
  std::string list;
  for (const Row& row : rows) {
    if (!row.regressed) {
      continue;
    }
    if (++regressed > k_max_list_items) {
      continue;
    }
    list += "<tr><td>" + page_text(group_name(*row.group), k_max_cell_bytes) +
            "</td><td><a href=\"#" + row.anchor + "\">" +
            page_text(row.result->id, k_max_cell_bytes) + "</a></td><td>" +
            page_text(golden::failure_reason(*row.result), k_max_reason_bytes) + "</td></tr>";
  }
  out += "<h2 id=\"regressions\">Regressions (" + std::to_string(regressed) + ")</h2>";
  if (regressed == 0) {
    out += "<p class=\"muted\">No case that passed in the baseline fails now.</p>";
  } else {
    out += "<p class=\"muted\">Cases that passed in the baseline and do not pass now.</p>"
           "<table><tr><th>suite on provider</th><th>case</th><th>reason</th></tr>" +
           list + "</table>";
    if (regressed > k_max_list_items) {
      out += "<p class=\"note\">and " + std::to_string(regressed - k_max_list_items) +
             " more: search the cases for \"regressed\".</p>";
    }
  }
  out += "</section>\n";
  return out;
}

std::string suites_section(const golden::RunSummary& summary) {
  if (summary.suites.empty()) {
    return {};
  }
  std::string out = "<section id=\"suites\"><h2>Suites</h2><table><tr><th>suite</th>"
                    "<th>providers</th><th>cases</th><th>pass</th><th>fail</th><th>error</th>"
                    "<th>pass rate</th><th>gate</th></tr>";
  for (const golden::SuiteSummary& s : summary.suites) {
    const golden::CaseTotals& totals = s.totals;
    const std::string gate_cell = (s.gate.passed ? "<span class=\"pass\">passed</span>"
                                                 : "<span class=\"fail\">FAILED</span>") +
                                  std::string(" (min ") + percent(s.gate.min_pass_rate) + ")";
    const auto rate = totals.pass_rate();
    out += "<tr><td>" + page_text(s.name, k_max_cell_bytes) + "</td><td>" +
           page_text(suite_providers(s), k_max_reason_bytes) + "</td><td class=\"n\">" +
           std::to_string(totals.cases) + "</td><td class=\"n\">" + std::to_string(totals.pass) +
           "</td><td class=\"n\">" + std::to_string(totals.fail) + "</td><td class=\"n\">" +
           std::to_string(totals.error) + "</td><td class=\"n\">" +
           (rate ? percent(*rate) : std::string("-")) + "</td><td>" + gate_cell + "</td></tr>";
  }
  out += "</table></section>\n";
  return out;
}

// A filter's <select>: one option per name, whose value lists the groups it covers (" 0 2 ").
std::string select(const char* id, const char* label,
                   const std::vector<std::pair<std::string, std::string>>& options,
                   const char* all) {
  std::string out = std::string("<label>") + label + " <select id=\"" + id +
                    "\"><option value=\"\">" + all + "</option>";
  for (const auto& [name, groups] : options) {
    out += "<option value=\"" + groups + "\">" + page_text(name, k_max_cell_bytes) + "</option>";
  }
  out += "</select></label>";
  return out;
}

// ---------------------------------------------------------------------------------------------
// The page, step by step

// Regressed and fixed cases, by suite, provider and id (key3).
struct BaselineCases {
  std::set<std::string> regressed;
  std::set<std::string> fixed;
};

BaselineCases baseline_cases(const golden::RunSummary& summary) {
  BaselineCases cases;
  for (const golden::SuiteSummary& suite : summary.suites) {
    for (const golden::BaselineEntry& b : suite.baselines) {
      for (const std::string& id : b.regressed) {
        cases.regressed.insert(key3(suite.name, b.provider, id));
      }
      for (const std::string& id : b.fixed) {
        cases.fixed.insert(key3(suite.name, b.provider, id));
      }
    }
  }
  return cases;
}

// A row per result, in the order of the groups, with its head rendered and its details empty.
std::vector<Row> case_rows(const std::vector<ResultGroup>& groups, const BaselineCases& cases,
                           const BaselineOutputs& baseline) {
  std::vector<Row> rows;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const ResultGroup& g = groups[gi];
    for (const golden::CaseResult* r : g.results) {
      Row row;
      row.group = &g;
      row.result = r;
      row.status = golden::to_string(r->status);
      row.group_index = gi;
      const std::string& id = r->id;
      row.regressed = cases.regressed.count(key3(g.suite, g.provider, id)) > 0;
      row.fixed = cases.fixed.count(key3(g.suite, g.provider, id)) > 0;
      if (r->output) {
        const auto it = baseline.outputs.find({g.suite, g.provider, id});
        if (it != baseline.outputs.end() && it->second != *r->output) {
          row.baseline_output = &it->second;
        }
      }
      row.rank = row.regressed                    ? 0
                 : row.status == "fail"           ? 1
                 : row.status == "error"          ? 2
                 : row.baseline_output != nullptr ? 3
                                                  : 4;
      row.anchor = "case-" + std::to_string(rows.size() + 1);
      rows.push_back(std::move(row));
    }
  }
  for (Row& row : rows) {
    row.head = row_head(row);
  }
  return rows;
}

// The filters above the case table: status, suite and provider (each option with the groups
// it covers), a text search, and the table's column heads.
std::string filters_bar(const std::vector<ResultGroup>& groups) {
  std::vector<std::pair<std::string, std::string>> suites;
  std::vector<std::pair<std::string, std::string>> providers;
  const auto add_option = [](std::vector<std::pair<std::string, std::string>>& options,
                             const std::string& name, std::size_t group) {
    auto it = std::find_if(options.begin(), options.end(),
                           [&name](const auto& option) { return option.first == name; });
    if (it == options.end()) {
      options.emplace_back(name, " ");
      it = options.end() - 1;
    }
    it->second += std::to_string(group) + " ";
  };
  for (std::size_t i = 0; i < groups.size(); ++i) {
    add_option(suites, groups[i].suite, i);
    add_option(providers, groups[i].provider, i);
  }
  std::string filters =
      "<div class=\"filters\"><label>status <select id=\"f-status\"><option value=\"all\">"
      "all</option><option value=\"notpass\">not passing</option><option value=\"fail\">"
      "fail</option><option value=\"error\">error</option><option value=\"pass\">pass"
      "</option></select></label>";
  filters += select("f-suite", "suite", suites, "all suites");
  filters += select("f-provider", "provider", providers, "all providers");
  filters += "<label>search <input id=\"f-text\" type=\"search\" placeholder=\"case id, reason, "
             "regressed, changed\"></label><span id=\"f-count\" class=\"muted\"></span></div>\n"
             "<div class=\"head\"><span></span><span>status</span><span>suite on provider</span>"
             "<span>case</span><span>reason</span></div>\n";
  return filters;
}

// Everything above the case table: the document's head, then the verdict, drift, provider
// changes, the comparison with the baseline and the suites.
std::string page_head(const RunRecord& run, const std::vector<Row>& rows) {
  const golden::RunSummary& summary = run.summary;
  std::string head = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                     "script-src " +
                     csp_script_hash(k_script) +
                     "; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n"
                     "<meta name=\"referrer\" content=\"no-referrer\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta name=\"generator\" content=\"promptops\">\n<title>";
  head +=
      summary.gate_passed ? "promptops: gate passed \xC2\xB7 " : "promptops: gate FAILED \xC2\xB7 ";
  head += html_escape(run.run_id);
  head += "</title>\n<style>";
  head += k_style;
  head += "</style>\n</head>\n<body>\n";
  head += verdict_section(run);
  const bool any_baseline =
      std::any_of(summary.suites.begin(), summary.suites.end(),
                  [](const golden::SuiteSummary& s) { return !s.baselines.empty(); });
  for (const DriftGroup& group : drift_groups(summary.drift)) {
    // Format drift says so when the form held; the other kinds show only when they drifted.
    const bool format = group.kind == "format";
    const bool plain = std::all_of(group.kind.begin(), group.kind.end(),
                                   [](char c) { return c >= 'a' && c <= 'z'; });
    head += findings_section(group.entries,
                             format  ? std::string("drift")
                             : plain ? "drift-" + group.kind
                                     : std::string("drift-other"),
                             html_escape(drift_heading(group.kind)),
                             format && any_baseline ? "The form of the outputs held against " +
                                                          html_escape(reference_of(summary)) + "."
                                                    : std::string());
  }
  head += findings_section(summary.provider_changes, "provider-changes", "Provider changes", "");
  head += baseline_section(summary, rows);
  head += suites_section(summary);
  return head;
}

// The end of the case table, the footer and the page's script.
std::string page_tail(const RunRecord& run) {
  std::string tail = "</section>\n<footer class=\"muted\"><p>Made by promptops from <code>" +
                     html_escape(run.run_id) +
                     "</code>. The page is self-contained (it loads nothing) and every model "
                     "output in it is escaped text. The whole run is in "
                     "<code>.promptops/runs/" +
                     html_escape(run.run_id) + "/</code>.</p></footer>\n<script>";
  tail += k_script;
  tail += "</script>\n</body>\n</html>\n";
  return tail;
}

// What of the cases the page shows and leaves out to stay under k_html_max_bytes.
struct DetailCounts {
  std::size_t unlisted = 0; // rows not listed at all
  std::size_t diffs = 0;    // diffs shown
  std::size_t diffs_left_out = 0;
  std::size_t evaluations_left_out = 0;
  std::size_t outputs_left_out = 0;
  std::size_t outputs_shortened = 0; // outputs shown only up to k_output_preview_bytes
};

// Fill in the details of the rows whose `rank` is passing (4) or not, as long as `remaining`
// bytes allow: every case gets its evaluations, its diff and the first KiB of its output
// before any gets 4 KiB.
void add_details(const std::vector<Row*>& by_rank, bool passing, const std::string& reference,
                 std::size_t& remaining, DetailCounts& counts) {
  const auto spend = [&remaining](Row& row, std::string& slot, std::string part) {
    if (part.size() > remaining) {
      row.cut = true;
      return false;
    }
    remaining -= part.size();
    slot = std::move(part);
    return true;
  };
  for (Row* row : by_rank) {
    if (!row->listed || (row->rank == 4) != passing) {
      continue;
    }
    counts.evaluations_left_out += spend(*row, row->evaluations, row_evaluations(*row)) ? 0 : 1;
    if (row->baseline_output != nullptr) {
      if (counts.diffs < k_html_max_diffs &&
          spend(*row, row->diff,
                diff_html(*row->baseline_output, *row->result->output, reference))) {
        ++counts.diffs;
      } else {
        row->cut = true;
        ++counts.diffs_left_out;
      }
    }
    counts.outputs_left_out +=
        spend(*row, row->output, row_output(*row, k_output_preview_bytes)) ? 0 : 1;
  }
  for (Row* row : by_rank) {
    const std::optional<std::string>& output = row->result->output;
    if (!row->listed || (row->rank == 4) != passing || row->output.empty() || !output ||
        output->size() <= k_output_preview_bytes) {
      continue;
    }
    // The longer cut may still be the shorter text: the preview's note is longer.
    std::string full = row_output(*row, k_html_max_output_bytes);
    if (full.size() <= row->output.size() + remaining) {
      remaining = remaining + row->output.size() - full.size();
      row->output = std::move(full);
    } else {
      ++counts.outputs_shortened;
    }
  }
}

// The budget: `fixed_bytes` (the parts always shown, every row's head and wrapper) comes
// first; what is left of k_html_max_bytes goes to the case details, the cases that did not
// pass or changed first (regressions first), then the passing ones.
DetailCounts fit_details(std::vector<Row>& rows, std::size_t fixed_bytes,
                         const std::string& reference) {
  DetailCounts counts;
  std::vector<Row*> by_rank;
  by_rank.reserve(rows.size());
  for (Row& row : rows) {
    by_rank.push_back(&row);
  }
  std::stable_sort(by_rank.begin(), by_rank.end(),
                   [](const Row* a, const Row* b) { return a->rank < b->rank; });
  // A run too large even for its rows: the least important are not listed.
  for (auto it = by_rank.rbegin(); it != by_rank.rend() && fixed_bytes > k_html_max_bytes; ++it) {
    (*it)->listed = false;
    fixed_bytes -= (*it)->head.size() + k_row_reserve;
    ++counts.unlisted;
  }
  std::size_t remaining = k_html_max_bytes > fixed_bytes ? k_html_max_bytes - fixed_bytes : 0;
  for (const bool passing : {false, true}) {
    add_details(by_rank, passing, reference, remaining, counts);
  }
  return counts;
}

// The case table's heading, notes on what differs and what was left out, and the filters.
std::string cases_intro(const std::vector<Row>& rows, const DetailCounts& counts,
                        const std::string& filters) {
  std::string intro = "<section id=\"cases\"><h2>Cases (" + std::to_string(rows.size()) + ")</h2>";
  const auto changed = static_cast<std::size_t>(std::count_if(
      rows.begin(), rows.end(), [](const Row& row) { return row.baseline_output != nullptr; }));
  std::vector<std::string> notes;
  if (changed > 0) {
    std::string text = std::to_string(changed) +
                       (changed == 1 ? " output differs" : " outputs differ") +
                       " from the baseline";
    if (counts.diffs_left_out > 0) {
      text += "; the diffs of " + std::to_string(counts.diffs) +
              " are shown (regressions and failures first): compare the other " +
              std::to_string(counts.diffs_left_out) +
              " in results.jsonl with the baseline's outputs in golden/baselines/";
    }
    notes.push_back(text + ".");
  }
  if (counts.evaluations_left_out + counts.outputs_left_out + counts.outputs_shortened > 0) {
    notes.push_back("To keep the page under " + std::to_string(k_html_max_bytes / 1'000'000) + "." +
                    std::to_string(k_html_max_bytes / 100'000 % 10) + " MB, " +
                    std::to_string(counts.outputs_shortened) + " outputs are cut at 1 KiB, and " +
                    std::to_string(counts.outputs_left_out) + " outputs and " +
                    std::to_string(counts.evaluations_left_out) +
                    " lists of evaluations are not shown (passing cases last); results.jsonl "
                    "has them all.");
  }
  if (counts.unlisted > 0) {
    notes.push_back(std::to_string(counts.unlisted) +
                    " cases (passing ones first) are not listed at all, to keep the page small; "
                    "results.jsonl has them.");
  }
  for (const auto& n : notes) {
    intro += "<p class=\"note\">" + n + "</p>";
  }
  intro += filters;
  return intro;
}

// The page: `head`, `intro`, each listed row with its details, `tail`.
std::string assemble(const std::string& head, const std::string& intro,
                     const std::vector<Row>& rows, const std::string& tail) {
  std::size_t total = head.size() + intro.size() + tail.size();
  for (const Row& row : rows) {
    if (row.listed) {
      total += row.head.size() + k_row_reserve + row.evaluations.size() + row.output.size() +
               row.diff.size();
    }
  }
  std::string page;
  page.reserve(total);
  page += head;
  page += intro;
  for (const Row& row : rows) {
    if (!row.listed) {
      continue;
    }
    if (row.cut) {
      page.append(row.head, 0, k_row_open.size() + row.status.size());
      page += k_cut;
      page.append(row.head, k_row_open.size() + row.status.size());
    } else {
      page += row.head;
    }
    page += k_body_open;
    page += row.evaluations;
    page += row.output;
    page += row.diff;
    page += k_row_close;
  }
  page += tail;
  return page;
}

} // namespace

std::string csp_script_hash(std::string_view script) {
  const std::string hex = util::sha256_hex(script);
  std::vector<unsigned char> digest;
  digest.reserve(hex.size() / 2);
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    digest.push_back(static_cast<unsigned char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return "'sha256-" + base64(digest) + "'";
}

std::string html_report(const RunRecord& run, const BaselineOutputs& baseline) {
  const std::vector<ResultGroup> groups = group_results(run);
  std::vector<Row> rows = case_rows(groups, baseline_cases(run.summary), baseline);
  const std::string head = page_head(run, rows);
  const std::string tail = page_tail(run);
  const std::string filters = filters_bar(groups);
  std::size_t fixed_bytes = head.size() + tail.size() + filters.size() + k_notes_reserve;
  for (const Row& row : rows) {
    fixed_bytes += row.head.size() + k_row_reserve;
  }
  const DetailCounts counts = fit_details(rows, fixed_bytes, reference_of(run.summary));
  return assemble(head, cases_intro(rows, counts, filters), rows, tail);
}

} // namespace promptops::report
