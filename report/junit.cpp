#include "report/junit.hpp"

#include "report/escape.hpp"
#include "util/json_fields.hpp"

#include <cstdio>

namespace promptops::report {

namespace {

using nlohmann::ordered_json;

// Model output kept in a report: enough to see what went wrong; the whole output stays in
// results.jsonl.
constexpr std::size_t k_max_output_bytes = 16384;
constexpr std::size_t k_max_message_bytes = 1024;

std::string seconds(double ms) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", ms / 1000.0);
  return text;
}

double latency_ms(const ordered_json& result) {
  const auto it = result.find("latency_ms");
  return it != result.end() && it->is_number() && it->get<double>() > 0 ? it->get<double>() : 0.0;
}

std::string number_text(const ordered_json& value) {
  if (value.is_number_float()) {
    char text[64];
    std::snprintf(text, sizeof text, "%.2f", value.get<double>());
    return text;
  }
  if (value.is_number()) {
    return value.dump();
  }
  return "-";
}

// Every evaluation of `result`, one a line: "FAIL contains (score 0.00): reason".
std::string evaluations_text(const ordered_json& result) {
  std::string out;
  const auto evaluations = result.find("evaluations");
  if (evaluations == result.end() || !evaluations->is_array()) {
    return out;
  }
  for (const auto& e : *evaluations) {
    if (!e.is_object()) {
      continue;
    }
    const auto pass = e.find("pass");
    const bool passed = pass != e.end() && pass->is_boolean() && pass->get<bool>();
    const auto error = e.find("error");
    const bool errored = error != e.end() && error->is_boolean() && error->get<bool>();
    const auto required = e.find("required");
    const bool optional = required != e.end() && required->is_boolean() && !required->get<bool>();
    out += errored ? "ERROR " : passed ? "PASS  " : "FAIL  ";
    out += util::string_field(e, "type");
    const auto score = e.find("score");
    out += " (score " + (score == e.end() ? std::string("-") : number_text(*score));
    out += optional ? ", not required)" : ")";
    const std::string reason = util::string_field(e, "reason");
    if (!reason.empty()) {
      out += ": " + reason;
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

std::string output_text(const ordered_json& result, const std::string& run_id) {
  const auto output = result.find("output");
  // get_ptr, not is_string() + get_ref(): GCC 12 -O2 sees a null dereference in the latter.
  const std::string* text =
      output == result.end() ? nullptr : output->get_ptr<const std::string*>();
  if (text == nullptr) {
    return {};
  }
  return clean_cut(*text, k_max_output_bytes,
                   "\n[... output cut; the whole output is in .promptops/runs/" + run_id +
                       "/results.jsonl]");
}

} // namespace

std::string junit_xml(const RunRecord& record) {
  const std::vector<ResultGroup> groups = group_results(record);
  const std::string started = util::string_field(record.run, "started");
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
    for (const ordered_json* r : g.results) {
      const std::string status = util::string_field(*r, "status");
      const double ms = latency_ms(*r);
      ++counts.tests;
      counts.ms += ms;
      if (model.empty()) {
        model = util::string_field(*r, "model");
      }
      cases += "    <testcase name=\"" +
               xml_escape(util::string_field(*r, "id"), XmlContext::attribute) + "\" classname=\"" +
               xml_escape(classname, XmlContext::attribute) + "\"";
      if (!g.suite_file.empty()) {
        cases += " file=\"" + xml_escape(g.suite_file, XmlContext::attribute) + "\"";
      }
      cases += " time=\"" + seconds(ms) + "\"";
      if (status == "pass") {
        cases += "/>\n";
        continue;
      }
      cases += ">\n";
      const bool failed = status == "fail";
      if (failed) {
        ++counts.failures;
      } else {
        ++counts.errors;
      }
      const std::string message = clean_cut(failure_reason(*r), k_max_message_bytes, " [...]");
      const auto output = r->find("output");
      const bool has_output = output != r->end() && output->is_string();
      const char* element = failed ? "failure" : "error";
      const char* type = failed ? "evaluation" : has_output ? "evaluation" : "provider";
      // GitLab shows the body, not the message attribute: the body starts with the message.
      std::string detail = message + "\n";
      const std::string evaluations = evaluations_text(*r);
      if (!evaluations.empty()) {
        detail += "\nevaluations:\n" + evaluations;
      }
      if (const auto attempts = r->find("attempts");
          !failed && attempts != r->end() && attempts->is_number_integer()) {
        detail += "\nattempts: " + attempts->dump() + "\n";
      }
      cases += "      <" + std::string(element) + " message=\"" +
               xml_escape(message, XmlContext::attribute) + "\" type=\"" + type + "\">" +
               xml_escape(detail) + "</" + element + ">\n";
      if (has_output) {
        cases +=
            "      <system-out>" + xml_escape(output_text(*r, record.run_id)) + "</system-out>\n";
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
