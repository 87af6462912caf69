#pragma once

#include "registry/config.hpp"
#include "registry/prompt.hpp"
#include "registry/source.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace promptops::registry {

constexpr const char* k_config_file = "promptops.yaml";

// The nearest folder at or above `start` that holds promptops.yaml, or std::nullopt.
std::optional<std::filesystem::path> find_root(const std::filesystem::path& start);

// The git branch that holds environment `env`: "refs/heads/promptops/env/<env>".
std::string environment_branch(std::string_view env);

// A prompt with everything it pulls in, read from one source (work tree or a commit).
struct ResolvedPrompt {
  Prompt prompt;
  std::string ref;                             // "" (work tree) or the ref it was read at
  std::string version;                         // full content hash (hex)
  std::map<std::string, std::string> partials; // every partial it includes, transitively
  std::optional<std::string> output_schema;    // the text of output_schema, when it has one

  // The version id as shown to people: its first 12 hex digits.
  std::string short_version() const { return version.substr(0, 12); }
};

// The version id of a prompt: a SHA-256 over the prompt file and every file it pulls in
// (partials and the output schema, each with its path), so that any change to what is sent
// changes the id and nothing else does: not a rename of the prompt, not a commit elsewhere.
std::string compute_version(const std::string& prompt_content,
                            const std::map<std::string, std::string>& partials,
                            const std::string& schema_path,
                            const std::optional<std::string>& schema_content);

// The names of every prompt in `source`, sorted. A file under prompts/ whose name breaks the
// rule for names (check_name) is passed over: it is no prompt (see invalid_prompt_files).
std::vector<std::string> prompt_names(const Source& source);

// One line for each file under prompts/ in `source` that prompt_names passes over, saying
// which and why (escaped for the terminal): for commands that warn about them.
std::vector<std::string> invalid_prompt_files(const Source& source);

// A registry on disk: its root, its config, its prompts.
class Registry {
public:
  // Open the registry that contains `start` (walking up to the nearest promptops.yaml) and
  // load its config. Throws InputError when there is none or the config is bad.
  static Registry open(const std::filesystem::path& start);

  const std::filesystem::path& root() const { return m_root; }
  const Config& config() const { return m_config; }
  const Source& work_tree() const { return *m_work_tree; }

  // The names of every prompt in `source` as registry::prompt_names gives them; by default
  // those of every prompt file in the work tree, sorted, invalid names included (validate
  // reports them, and using one is refused by check_name).
  std::vector<std::string> prompt_names(const Source* source = nullptr) const;
  // The names of every partial in the work tree, sorted.
  std::vector<std::string> partial_names() const;

  // Load `ref` with its partials and output schema and compute its version. Throws
  // InputError for an unknown prompt (with "did you mean"), a missing partial or schema, or
  // a ref that names nothing.
  ResolvedPrompt resolve(const PromptRef& ref) const;

  // The source that holds `ref`: the work tree for "", the last commit for "HEAD", the tip
  // of the environment's branch for an environment named in promptops.yaml. Throws
  // InputError for anything else (with "did you mean") or a ref that names nothing yet.
  std::shared_ptr<const Source> source_for(const std::string& ref) const;

  // "prompts/x.yaml" as shown in messages.
  std::string display(const std::string& path) const { return m_work_tree->display(path); }

private:
  Registry(std::filesystem::path root, std::shared_ptr<const WorkTreeSource> work_tree,
           Config config);

  std::filesystem::path m_root;
  std::shared_ptr<const WorkTreeSource> m_work_tree;
  Config m_config;
};

// Resolve a prompt already read from `source` (collect partials and schema, compute the
// version). Throws InputError for a missing or broken partial or schema.
ResolvedPrompt resolve_prompt(Prompt prompt, const Source& source, const std::string& ref);

} // namespace promptops::registry
