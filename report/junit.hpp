#pragma once

#include "report/run_record.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace promptops::report {

// The run as JUnit XML for CI test reporters (GitLab's artifacts:reports:junit, GitHub's
// mikepenz/action-junit-report and dorny/test-reporter): one <testsuite> per suite x provider
// (named "suite on provider"; with the prompt added when a suite runs several prompts on one
// provider), one <testcase> per result (name = case id, classname = "suite.provider",
// time = latency in seconds), <failure> for a failed case (message = its first failed required
// evaluation as "type: reason", body = every evaluation), <error> for a case that could not
// be decided, the model output of both in <system-out>, and counts on every suite and on the
// root. Everything taken from the run is escaped, so any model output gives well-formed XML.
std::string junit_xml(const RunRecord& record);

// `text` made valid UTF-8 that XML 1.0 allows: an invalid byte and U+FFFE/U+FFFF become
// U+FFFD, a control character other than tab, newline and carriage return becomes the visible
// text "\xNN" (an escape sequence in a model's output stays readable and harmless).
std::string clean_text(std::string_view text);

// `text` cleaned (clean_text) and escaped for XML or HTML text and attribute values: & < > " '
// become entities, and so do tab, newline and carriage return when `attribute` (a parser
// would otherwise turn them into spaces).
enum class XmlContext { text, attribute };
std::string xml_escape(std::string_view text, XmlContext context = XmlContext::text);

// `text` (valid UTF-8) cut to at most `max_bytes` bytes on a character boundary, with
// `note` appended when it was cut.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes, std::string_view note);

} // namespace promptops::report
