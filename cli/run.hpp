#pragma once

namespace promptops::cli {

// Parse the command line, run one command and return the process exit code (SPEC: 0 ok,
// 1 gate failed, 2 bad input or usage, 3 could not complete, 4 nothing to evaluate). The one
// place that catches promptops::Error and prints "promptops: error: ...".
int run(int argc, char* argv[]);

} // namespace promptops::cli
