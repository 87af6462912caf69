#include "registry/registry.hpp"

#include "registry/git.hpp"
#include "registry/history.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/suggest.hpp"
#include "util/text.hpp"
#include "util/yaml_json.hpp"

#include <algorithm>
#include <deque>
#include <set>

namespace promptops::registry {

std::optional<std::filesystem::path> find_root(const std::filesystem::path& start) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(start, ec);
  if (ec) {
    return std::nullopt;
  }
  dir = dir.lexically_normal();
  if (dir.has_relative_path() && dir.filename().empty()) {
    dir = dir.parent_path(); // "/x/reg/." normalises to "/x/reg/": the root has no trailing '/'
  }
  for (;;) {
    if (std::filesystem::is_regular_file(dir / k_config_file, ec)) {
      return dir;
    }
    if (!dir.has_relative_path()) {
      return std::nullopt;
    }
    std::filesystem::path parent = dir.parent_path();
    if (parent == dir) {
      return std::nullopt;
    }
    dir = parent;
  }
}

std::string compute_version(const std::string& prompt_content,
                            const std::map<std::string, std::string>& partials,
                            const std::string& schema_path,
                            const std::optional<std::string>& schema_content) {
  // A manifest of (key, content hash) lines in key order, hashed once more: stable, and
  // independent of how the parts are read. The prompt's own file is keyed by role, not
  // path, so that renaming a prompt keeps its version; partials and the schema keep their
  // paths, since the prompt refers to them by those.
  std::map<std::string, std::string> files;
  files["<prompt>"] = util::sha256_hex(prompt_content);
  for (const auto& [name, content] : partials) {
    files[partial_path(name)] = util::sha256_hex(content);
  }
  if (schema_content) {
    files[schema_path] = util::sha256_hex(*schema_content);
  }
  std::string manifest = "promptops-version 1\n";
  for (const auto& [path, hash] : files) {
    manifest += path;
    manifest += '\0';
    manifest += hash;
    manifest += '\n';
  }
  return util::sha256_hex(manifest);
}

Registry::Registry(std::filesystem::path root, std::shared_ptr<const WorkTreeSource> work_tree,
                   Config config)
    : m_root(std::move(root)), m_work_tree(std::move(work_tree)), m_config(std::move(config)) {}

Registry Registry::open(const std::filesystem::path& start) {
  auto root = find_root(start);
  if (!root) {
    throw InputError("not a promptops registry (no promptops.yaml in \"" +
                     std::filesystem::absolute(start).lexically_normal().string() +
                     "\" or any parent folder): run \"promptops init\" to create one");
  }
  std::error_code ec;
  const std::filesystem::path cwd = std::filesystem::current_path(ec);
  std::string prefix;
  if (!ec) {
    const std::filesystem::path rel = root->lexically_relative(cwd);
    if (!rel.empty() && rel != ".") {
      prefix = rel.generic_string() + "/";
    }
  }
  auto source = std::make_shared<const WorkTreeSource>(*root, prefix);
  const std::string config_display = source->display(k_config_file);
  auto text = source->read(k_config_file);
  if (!text) {
    throw InputError(config_display, {}, "cannot read file");
  }
  Config config = parse_config(*text, config_display);
  return Registry(*root, std::move(source), std::move(config));
}

namespace {
std::vector<std::string> names_from_paths(const std::vector<std::string>& paths,
                                          std::string_view dir, std::string_view suffix) {
  std::vector<std::string> names;
  for (const auto& p : paths) {
    names.push_back(p.substr(dir.size(), p.size() - dir.size() - suffix.size()));
  }
  return names;
}
} // namespace

namespace {
// Every prompt file's name in `source`, valid or not; partials live beside prompts but are not
// prompts.
std::vector<std::string> prompt_file_names(const Source& source) {
  std::vector<std::string> names;
  for (auto& name : names_from_paths(source.list("prompts", ".yaml"), "prompts/", ".yaml")) {
    if (name.rfind("partials/", 0) != 0) {
      names.push_back(std::move(name));
    }
  }
  return names;
}
} // namespace

std::vector<std::string> prompt_names(const Source& source) {
  std::vector<std::string> names;
  for (auto& name : prompt_file_names(source)) {
    // A tree from a remote may hold any file name ("x\ny", escapes): one that breaks the rule
    // for names is no prompt, on disk or in git.
    if (!name_problem(name)) {
      names.push_back(std::move(name));
    }
  }
  return names;
}

std::vector<std::string> invalid_prompt_files(const Source& source) {
  std::vector<std::string> out;
  for (const auto& name : prompt_file_names(source)) {
    if (auto problem = name_problem(name)) {
      out.push_back(util::text::printable(source.display(prompt_path(name))) +
                    " is not a prompt, passed over: invalid prompt name \"" +
                    util::text::printable(name) + "\": " + *problem);
    }
  }
  return out;
}

std::vector<std::string> Registry::prompt_names(const Source* source) const {
  // The work tree is the user's own: its invalid names are listed, for validate to report and
  // for commands that use them to refuse by name.
  return source != nullptr ? registry::prompt_names(*source) : prompt_file_names(*m_work_tree);
}

std::vector<std::string> Registry::partial_names() const {
  return names_from_paths(m_work_tree->list("prompts/partials", ".mustache"), "prompts/partials/",
                          ".mustache");
}

std::string environment_branch(std::string_view env) {
  return "refs/heads/promptops/env/" + std::string(env);
}

std::shared_ptr<const Source> Registry::source_for(const std::string& ref) const {
  if (ref.empty()) {
    return m_work_tree;
  }
  const auto& envs = m_config.environments;
  const bool is_env = std::find(envs.begin(), envs.end(), ref) != envs.end();
  if (ref != "HEAD" && !is_env) {
    std::vector<std::string> known = envs;
    known.push_back("HEAD");
    throw InputError("unknown reference \"@" + ref + "\"" + util::did_you_mean(ref, known) +
                     ": use @HEAD, @vN, a version id, or an environment of " +
                     m_config.display_path);
  }
  git::RegistryRepository g = git::registry_repository(m_root, "\"@" + ref + "\"");
  if (is_env) {
    // An environment branch holds the pinned files at its root.
    auto commit = git::branch_commit(g.repo.get(), environment_branch(ref));
    if (!commit) {
      throw InputError("environment \"" + ref + "\" has nothing promoted yet (no branch " +
                       environment_branch(ref).substr(std::string("refs/heads/").size()) + ")");
    }
    return std::make_shared<const git::TreeSource>(g.repo, std::move(*commit), "", ref);
  }
  auto commit = git::find_commit(g.repo.get(), "HEAD");
  if (!commit) {
    throw InputError("\"@HEAD\": the repository has no commits yet");
  }
  return std::make_shared<const git::TreeSource>(g.repo, std::move(*commit), g.prefix, "HEAD");
}

ResolvedPrompt Registry::resolve(const PromptRef& ref) const {
  const auto& envs = m_config.environments;
  if (!ref.ref.empty() && ref.ref != "HEAD" &&
      std::find(envs.begin(), envs.end(), ref.ref) == envs.end() && is_version_ref(ref.ref)) {
    // NAME@v3 or NAME@<id prefix>: the commit that introduced that version, under the name
    // the prompt had then.
    const auto history = prompt_history(*this, ref.name);
    const VersionEntry entry = *find_version(history, ref.name, ref.ref);
    git::RegistryRepository g = git::registry_repository(m_root, "\"@" + ref.ref + "\"");
    auto commit = git::find_commit(g.repo.get(), entry.commit);
    auto source = std::make_shared<const git::TreeSource>(g.repo, std::move(*commit), g.prefix,
                                                          entry.commit.substr(0, 7));
    const std::string path = prompt_path(entry.name);
    Prompt prompt = parse_prompt(entry.name, *source->read(path), path, source->display(path));
    ResolvedPrompt r = resolve_prompt(std::move(prompt), *source, ref.ref);
    r.prompt.name = ref.name;
    return r;
  }
  auto source = source_for(ref.ref);
  const std::string path = prompt_path(ref.name);
  auto text = source->read(path);
  if (!text) {
    if (!ref.ref.empty() && ref.ref != "HEAD") {
      throw InputError("prompt \"" + ref.name + "\" is not pinned in environment \"" + ref.ref +
                       "\"" + util::did_you_mean(ref.name, prompt_names(source.get())));
    }
    if (!ref.ref.empty() && m_work_tree->read(path)) {
      throw InputError("prompt \"" + ref.name + "\" is not committed at " + ref.ref +
                       " (it exists only in the work tree)");
    }
    throw InputError("unknown prompt \"" + ref.name + "\"" +
                     (ref.ref.empty() ? "" : " at " + ref.ref) +
                     util::did_you_mean(ref.name, prompt_names(source.get())) + " (no file " +
                     source->display(path) + ")");
  }
  Prompt prompt = parse_prompt(ref.name, *text, path, source->display(path));
  return resolve_prompt(std::move(prompt), *source, ref.ref);
}

ResolvedPrompt resolve_prompt(Prompt prompt, const Source& source, const std::string& ref) {
  ResolvedPrompt r{std::move(prompt), ref, {}, {}, {}};
  const Prompt& p = r.prompt;

  // Collect partials breadth-first; a partial may include others.
  std::deque<std::string> queue;
  for (const auto& name : p.template_partials()) {
    queue.push_back(name);
  }
  std::vector<std::string> known_partials;
  bool listed = false;
  while (!queue.empty()) {
    const std::string name = queue.front();
    queue.pop_front();
    if (r.partials.count(name) != 0) {
      continue;
    }
    if (r.partials.size() > 1000) {
      throw InputError(p.display_path, {}, "more than 1000 partials included");
    }
    check_name(name, "partial");
    const std::string path = partial_path(name);
    auto text = source.read(path);
    if (!text) {
      if (!listed) {
        known_partials = names_from_paths(source.list("prompts/partials", ".mustache"),
                                          "prompts/partials/", ".mustache");
        listed = true;
      }
      throw InputError(p.display_path, {},
                       "partial \"" + name + "\" not found (no file " + source.display(path) + ")" +
                           util::did_you_mean(name, known_partials));
    }
    try {
      const auto compiled = mustache::Template::parse(*text);
      for (const auto& inner : compiled.partials()) {
        queue.push_back(inner);
      }
    } catch (const mustache::TemplateSyntaxError& e) {
      throw InputError(source.display(path), {e.line(), e.column()}, e.problem());
    }
    r.partials.emplace(name, std::move(*text));
  }

  if (!p.output_schema.empty()) {
    const std::filesystem::path schema(p.output_schema);
    const std::string normal = schema.lexically_normal().generic_string();
    if (schema.is_absolute() || normal.rfind("..", 0) == 0) {
      throw InputError(p.display_path, p.output_schema_position,
                       "output_schema \"" + p.output_schema +
                           "\" must be a path inside the registry, relative to its root");
    }
    r.output_schema = source.read(normal);
    if (!r.output_schema) {
      throw InputError(p.display_path, p.output_schema_position,
                       "output schema \"" + p.output_schema + "\" not found (no file " +
                           source.display(normal) + ")");
    }
    util::parse_json(*r.output_schema, source.display(normal)); // must at least be JSON
  }
  r.version = compute_version(
      p.file_content, r.partials,
      std::filesystem::path(p.output_schema).lexically_normal().generic_string(), r.output_schema);
  return r;
}

} // namespace promptops::registry
