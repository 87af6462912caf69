#pragma once

#include <CLI/CLI.hpp>

#include <functional>

// Each subcommand lives in cmd_<name>.cpp: it adds its options to the app and returns the
// function that runs it, which returns the exit code.
namespace promptops::cli {

using Action = std::function<int()>;

Action add_init(CLI::App& app);
Action add_validate(CLI::App& app);
Action add_list(CLI::App& app);
Action add_show(CLI::App& app);
Action add_render(CLI::App& app);
Action add_diff(CLI::App& app);
Action add_log(CLI::App& app);
Action add_promote(CLI::App& app);
Action add_rollback(CLI::App& app);
Action add_env(CLI::App& app);
Action add_export(CLI::App& app);
Action add_serve(CLI::App& app);
Action add_push(CLI::App& app);
Action add_pull(CLI::App& app);
Action add_test(CLI::App& app);
Action add_cache(CLI::App& app);
Action add_baseline(CLI::App& app);
Action add_report(CLI::App& app);
Action add_merge(CLI::App& app);

} // namespace promptops::cli
