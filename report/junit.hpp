#pragma once

#include "report/run_record.hpp"

#include <string>

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

} // namespace promptops::report
