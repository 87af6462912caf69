#include "cli/run.hpp"

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"
#include "util/text.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#ifndef PROMPTOPS_VERSION
#define PROMPTOPS_VERSION "0.0.0"
#endif

namespace promptops::cli {

namespace {

void print_error(const std::string& message) {
  // Messages quote names, reasons and text from git, files and providers: whatever slipped
  // through unescaped, no escape sequence reaches the terminal (lines are kept).
  const std::string shown =
      util::text::printable(message, {util::text::Quotes::keep, util::text::Layout::keep});
  std::fprintf(stderr, "promptops: error: %s\n", shown.c_str());
}

} // namespace

int run(int argc, char* argv[]) {
  CLI::App app{"promptops: a git-backed prompt registry with tests and promotion gates"};
  app.name("promptops");
  app.require_subcommand(1);
  app.set_version_flag("--version", "promptops " PROMPTOPS_VERSION);
  std::vector<std::string> directories;
  app.add_option("-C", directories, "Run as if started in DIR (like git -C)")
      ->type_name("DIR")
      ->allow_extra_args(false);
  app.footer("Exit codes: 0 ok, 1 a gate failed, 2 bad input or usage, 3 could not complete, "
             "4 nothing to evaluate.\nDocs: docs/getting-started.md, docs/file-formats.md");

  std::map<std::string, Action> actions;
  actions["init"] = add_init(app);
  actions["validate"] = add_validate(app);
  actions["list"] = add_list(app);
  actions["show"] = add_show(app);
  actions["render"] = add_render(app);
  actions["diff"] = add_diff(app);
  actions["log"] = add_log(app);
  actions["promote"] = add_promote(app);
  actions["rollback"] = add_rollback(app);
  actions["env"] = add_env(app);
  actions["export"] = add_export(app);
  actions["serve"] = add_serve(app);
  actions["push"] = add_push(app);
  actions["pull"] = add_pull(app);
  actions["test"] = add_test(app);
  actions["cache"] = add_cache(app);
  actions["baseline"] = add_baseline(app);
  actions["report"] = add_report(app);
  actions["merge"] = add_merge(app);

  // A mistyped command gets a suggestion instead of CLI11's generic message.
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-C") {
      ++i;
      continue;
    }
    if (arg.rfind("-C", 0) == 0 || arg.rfind("-", 0) == 0) {
      continue;
    }
    if (actions.count(arg) == 0) {
      std::vector<std::string> names;
      for (const auto& [name, _] : actions) {
        names.push_back(name);
      }
      print_error("unknown command \"" + arg + "\"" + util::did_you_mean(arg, names) +
                  " (see promptops --help)");
      return 2;
    }
    break;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes are 100+; SPEC says bad usage is 2.
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    for (const auto& dir : directories) {
      std::error_code ec;
      std::filesystem::current_path(dir, ec);
      if (ec) {
        throw UsageError("cannot change to folder \"" + dir + "\": " + ec.message());
      }
    }
    for (const auto* sub : app.get_subcommands()) {
      const int rc = actions.at(sub->get_name())();
      std::fflush(stdout);
      return rc;
    }
    return 2;
  } catch (const InputErrors& e) {
    std::fflush(stdout);
    for (const auto& one : e.errors()) {
      print_error(one.what());
    }
    return e.exit_code();
  } catch (const Error& e) {
    std::fflush(stdout);
    print_error(e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    print_error(std::string("internal error: ") + e.what());
    return 3;
  }
}

} // namespace promptops::cli
