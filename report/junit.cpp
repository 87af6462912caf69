#include "report/junit.hpp"

#include "report/escape.hpp"

#include <cstdio>

namespace promptops::report {

namespace {

// Model output kept in a report: enough to see what went wrong; the whole output stays in
// results.jsonl.
constexpr std::size_t k_max_output_bytes = 16384;
constexpr std::size_t k_max_message_bytes = 1024;

std::string seconds(double ms) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", ms / 1000.0);
  return text;
}

double latency_ms(const golden::CaseResult& result) {
  return result.latency_ms && *result.latency_ms > 0 ? *result.latency_ms : 0.0;
}

std::string score_text(double score) {
  char text[64];
  std::snprintf(text, sizeof text, "%.2f", score);
  return text;
}

// Every evaluation of `result`, one a line: "FAIL contains (score 0.00): reason".
std::string evaluations_text(const golden::CaseResult& result) {
  std::string out;
  for (const golden::EvaluationResult& e : result.evaluations) {
    out += e.error ? "ERROR " : e.pass ? "PASS  " : "FAIL  ";
    out += e.type;
    out += " (score " + score_text(e.score);
    out += e.required ? ")" : ", not required)";
    if (!e.reason.empty()) {
      out += ": " + e.reason;
    }
    out += '\n';
  }
  return out;
}

void property(std::string& out, std::string_view name, std::string_view value) {
  out += "      <property name=\"";
  out += xml_escape(name, XmlContext::attribute);
  out += "\" value=\"";
  out += xml_escape(value, XmlContext::attribute);
  out += "\"/>\n";
}

struct Counts {
  std::size_t tests = 0;
  std::size_t failures = 0;
  std::size_t errors = 0;
  double ms = 0;
};

std::string counts_attributes(const Counts& c) {
  return "tests=\"" + std::to_string(c.tests) + "\" failures=\"" + std::to_string(c.failures) +
         "\" errors=\"" + std::to_string(c.errors) + "\" skipped=\"0\" time=\"" + seconds(c.ms) +
         "\"";
}

std::string output_text(const std::string& output, const std::string& run_id) {
  return clean_cut(output, k_max_output_bytes,
                   "\n[... output cut; the whole output is in .promptops/runs/" + run_id +
                       "/results.jsonl]");
}

} // namespace

std::string junit_xml(const RunRecord& record) {
  const std::vector<ResultGroup> groups = group_results(record);
  const std::string& started = record.run.started;
  // The common JUnit schemas want a local time without a zone; ours is UTC.
  const std::string timestamp =
      !started.empty() && started.back() == 'Z' ? started.substr(0, started.size() - 1) : started;

  Counts all;
  std::string body;
  for (const ResultGroup& g : groups) {
    // Unique per group: GitLab keeps only the first of two tests with one classname and name.
    const std::string classname =
        g.suite + "." + g.provider +
        (g.shares_provider ? "." + g.prompt + "@" + g.prompt_version.substr(0, 12) : std::string());
    Counts counts;
    std::string cases;
    std::string model;
    for (const golden::CaseResult* r : g.results) {
      const double ms = latency_ms(*r);
      ++counts.tests;
      counts.ms += ms;
      if (model.empty()) {
        model = r->model;
      }
      cases += "    <testcase name=\"" + xml_escape(r->id, XmlContext::attribute) +
               "\" classname=\"" + xml_escape(classname, XmlContext::attribute) + "\"";
      if (!g.suite_file.empty()) {
        cases += " file=\"" + xml_escape(g.suite_file, XmlContext::attribute) + "\"";
      }
      cases += " time=\"" + seconds(ms) + "\"";
      if (r->status == golden::CaseStatus::pass) {
        cases += "/>\n";
        continue;
      }
      cases += ">\n";
      const bool failed = r->status == golden::CaseStatus::fail;
      if (failed) {
        ++counts.failures;
      } else {
        ++counts.errors;
      }
      const std::string message =
          clean_cut(golden::failure_reason(*r), k_max_message_bytes, " [...]");
      const char* element = failed ? "failure" : "error";
      const char* type = failed || r->output ? "evaluation" : "provider";
      // GitLab shows the body, not the message attribute: the body starts with the message.
      std::string detail = message + "\n";
      const std::string evaluations = evaluations_text(*r);
      if (!evaluations.empty()) {
        detail += "\nevaluations:\n" + evaluations;
      }
      if (!failed) {
        detail += "\nattempts: " + std::to_string(r->attempts) + "\n";
      }
      cases += "      <" + std::string(element) + " message=\"" +
               xml_escape(message, XmlContext::attribute) + "\" type=\"" + type + "\">" +
               xml_escape(detail) + "</" + element + ">\n";
      if (r->output) {
        cases += "      <system-out>" + xml_escape(output_text(*r->output, record.run_id)) +
                 "</system-out>\n";
      }
      cases += "    </testcase>\n";
    }

    body += "  <testsuite name=\"" + xml_escape(group_name(g), XmlContext::attribute) + "\" " +
            counts_attributes(counts);
    if (!timestamp.empty()) {
      body += " timestamp=\"" + xml_escape(timestamp, XmlContext::attribute) + "\"";
    }
    if (!g.suite_file.empty()) {
      body += " file=\"" + xml_escape(g.suite_file, XmlContext::attribute) + "\"";
    }
    body += ">\n    <properties>\n";
    property(body, "run_id", record.run_id);
    property(body, "suite", g.suite);
    property(body, "provider", g.provider);
    property(body, "prompt", g.prompt);
    property(body, "prompt_version", g.prompt_version);
    if (!model.empty()) {
      property(body, "model", model);
    }
    body += "    </properties>\n";
    body += cases;
    body += "  </testsuite>\n";

    all.tests += counts.tests;
    all.failures += counts.failures;
    all.errors += counts.errors;
    all.ms += counts.ms;
  }

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"" + xml_escape("promptops " + record.run_id, XmlContext::attribute) +
         "\" " + counts_attributes(all) + ">\n";
  out += body;
  out += "</testsuites>\n";
  return out;
}

} // namespace promptops::report
