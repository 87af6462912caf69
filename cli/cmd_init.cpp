#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/init.hpp"

namespace promptops::cli {

Action add_init(CLI::App& app) {
  struct Options {
    std::string dir = ".";
    bool no_git = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd =
      app.add_subcommand("init", "Create a working example registry in DIR (default: here)");
  cmd->add_option("DIR", options->dir, "Folder to create the registry in")->type_name("DIR");
  cmd->add_flag("--no-git", options->no_git, "Do not create a git repository");
  return [options] {
    const auto result = registry::init_registry(
        options->dir,
        options->no_git ? registry::InitGit::leave_alone : registry::InitGit::create_repository);
    std::string out = "Created a promptops registry in " + options->dir + ":\n";
    for (const auto& file : result.files_written) {
      out += "  " + file + "\n";
    }
    if (result.created_repository) {
      out += "and a git repository for it.\n";
    }
    out += "\nNext:\n";
    if (options->dir != ".") {
      out += "  cd " + options->dir + "\n";
    }
    out += "  promptops validate\n"
           "  promptops render support/classify --var ticket=\"I was charged twice\"\n";
    print(out);
    return 0;
  };
}

} // namespace promptops::cli
