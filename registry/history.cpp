#include "registry/history.hpp"

#include "registry/git.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace promptops::registry {

namespace {

bool same_blob(const std::optional<git_oid>& a, const std::optional<git_oid>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a || git_oid_equal(&*a, &*b);
}

// The files a resolved prompt consists of, with their blob ids: when none changed between
// two commits, the version did not either and nothing needs parsing.
struct Fingerprint {
  std::map<std::string, std::optional<git_oid>> blobs;
  bool operator==(const Fingerprint& other) const {
    if (blobs.size() != other.blobs.size()) {
      return false;
    }
    for (const auto& [path, id] : blobs) {
      auto it = other.blobs.find(path);
      if (it == other.blobs.end() || !same_blob(id, it->second)) {
        return false;
      }
    }
    return true;
  }
};

Fingerprint fingerprint(const git::TreeSource& tree, const std::vector<std::string>& paths) {
  Fingerprint f;
  for (const auto& p : paths) {
    f.blobs[p] = tree.blob_id(p);
  }
  return f;
}

// When `name` is absent from `older` but present in `newer`, the name it had in `older`
// if the same bytes stood there under another name that `newer` no longer has.
std::optional<std::string> renamed_from(const Registry& registry, const git::TreeSource& older,
                                        const git::TreeSource& newer, const std::string& name) {
  const auto wanted = newer.blob_id(prompt_path(name));
  if (!wanted) {
    return std::nullopt;
  }
  for (const auto& candidate : registry.prompt_names(&older)) {
    if (candidate == name || newer.blob_id(prompt_path(candidate))) {
      continue;
    }
    if (same_blob(older.blob_id(prompt_path(candidate)), wanted)) {
      return candidate;
    }
  }
  return std::nullopt;
}

} // namespace

bool is_version_ref(const std::string& ref) {
  if (ref.size() >= 2 && ref[0] == 'v' &&
      std::all_of(ref.begin() + 1, ref.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return true;
  }
  return ref.size() >= 4 && ref.size() <= 64 &&
         std::all_of(ref.begin(), ref.end(), [](unsigned char c) { return std::isxdigit(c); });
}

std::vector<VersionEntry> prompt_history(const Registry& registry, const std::string& name) {
  git::RegistryRepository g = git::registry_repository(registry.root(), "\"promptops log\"");
  git_revwalk* raw_walk = nullptr;
  git::check(git_revwalk_new(&raw_walk, g.repo.get()), "cannot walk the history");
  git::Revwalk walk(raw_walk);
  git::check(git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL), "cannot walk the history");
  git_revwalk_simplify_first_parent(walk.get());
  const int pushed = git_revwalk_push_head(walk.get());
  if (pushed == GIT_ENOTFOUND || pushed == GIT_EUNBORNBRANCH) {
    throw InputError("prompt \"" + name + "\" has no history: the repository has no commits yet");
  }
  git::check(pushed, "cannot walk the history");

  // Walk newest to oldest, following renames; then number oldest first.
  struct Seen {
    std::string commit, name;
    git::Commit handle;
  };
  std::vector<Seen> commits;
  git_oid id;
  while (git_revwalk_next(&id, walk.get()) == 0) {
    git_commit* raw = nullptr;
    git::check(git_commit_lookup(&raw, g.repo.get(), &id), "cannot read a commit");
    commits.push_back({git::oid_hex(id), "", git::Commit(raw)});
  }

  struct Change {
    std::size_t index; // into commits
    std::string id;
    std::string name;
  };
  std::vector<Change> changes; // newest first
  std::string current = name;
  std::optional<Fingerprint> newer_print;
  std::optional<std::string> newer_version;
  std::size_t newer_index = 0;
  std::unique_ptr<git::TreeSource> newer_tree;
  for (std::size_t i = 0; i < commits.size(); ++i) {
    git_commit* copy = nullptr;
    git::check(git_commit_dup(&copy, commits[i].handle.get()), "cannot read a commit");
    auto tree = std::make_unique<git::TreeSource>(g.repo, git::Commit(copy), g.prefix,
                                                  commits[i].commit.substr(0, 12));
    if (!tree->blob_id(prompt_path(current)) && newer_tree) {
      if (auto old = renamed_from(registry, *tree, *newer_tree, current)) {
        current = *old;
      }
    }
    std::optional<std::string> version;
    std::optional<Fingerprint> print;
    const bool same_name = newer_tree && commits[newer_index].name == current;
    if (same_name && newer_print && newer_version) {
      std::vector<std::string> paths;
      for (const auto& [path, _] : newer_print->blobs) {
        paths.push_back(path);
      }
      if (fingerprint(*tree, paths) == *newer_print) {
        version = newer_version; // nothing it is made of changed: no need to parse
        print = newer_print;
      }
    }
    if (!version && tree->blob_id(prompt_path(current))) {
      try {
        auto text = tree->read(prompt_path(current));
        Prompt prompt =
            parse_prompt(current, *text, prompt_path(current), tree->display(prompt_path(current)));
        ResolvedPrompt resolved = resolve_prompt(std::move(prompt), *tree, "");
        std::vector<std::string> paths{prompt_path(current)};
        for (const auto& [partial, _] : resolved.partials) {
          paths.push_back(partial_path(partial));
        }
        if (!resolved.prompt.output_schema.empty()) {
          paths.push_back(resolved.prompt.output_schema);
        }
        print = fingerprint(*tree, paths);
        version = resolved.version;
      } catch (const Error&) {
        // A commit where the prompt was broken is not a version.
      }
    }
    // The newer commit introduced its version if this (older) one had another or none.
    if (newer_version && newer_version != version) {
      changes.push_back({newer_index, *newer_version, commits[newer_index].name});
    }
    commits[i].name = current;
    newer_version = version;
    newer_print = print;
    newer_index = i;
    newer_tree = std::move(tree);
  }
  if (newer_version) {
    changes.push_back({newer_index, *newer_version, commits[newer_index].name});
  }
  if (changes.empty()) {
    throw InputError("prompt \"" + name + "\" is not in the history of HEAD");
  }

  std::vector<VersionEntry> out;
  std::map<std::string, int> numbers;
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    const git_commit* c = commits[it->index].handle.get();
    VersionEntry e;
    auto known = numbers.find(it->id);
    e.reverted = known != numbers.end();
    e.number = e.reverted ? known->second : static_cast<int>(numbers.size()) + 1;
    numbers.emplace(it->id, e.number);
    e.id = it->id;
    e.commit = commits[it->index].commit;
    e.name = it->name;
    e.time = static_cast<std::int64_t>(git_commit_time(c));
    e.time_offset = git_commit_time_offset(c);
    const git_signature* author = git_commit_author(c);
    e.author = std::string(author->name) + " <" + author->email + ">";
    const char* summary = git_commit_summary(const_cast<git_commit*>(c));
    e.subject = summary != nullptr ? summary : "";
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<VersionEntry> find_version(const std::vector<VersionEntry>& history,
                                         const std::string& name, const std::string& ref) {
  if (!is_version_ref(ref)) {
    return std::nullopt;
  }
  if (ref[0] == 'v' && ref.size() >= 2 && std::isdigit(static_cast<unsigned char>(ref[1]))) {
    const int wanted = std::stoi(ref.substr(1));
    // The latest commit that carries this number (a revert brings a number back).
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      if (it->number == wanted) {
        return *it;
      }
    }
    throw InputError("prompt \"" + name + "\" has no version " + ref + " (it has v1 to v" +
                     std::to_string(history.empty() ? 0 : history.back().number) +
                     "; see promptops log " + name + ")");
  }
  std::string lower = ref;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::optional<VersionEntry> found;
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->id.rfind(lower, 0) == 0) {
      if (found && found->id != it->id) {
        throw InputError("ambiguous version id \"" + ref + "\" for prompt \"" + name +
                         "\": it starts v" + std::to_string(found->number) + " and v" +
                         std::to_string(it->number) + "; give more digits");
      }
      if (!found) {
        found = *it;
      }
    }
  }
  if (!found) {
    throw InputError("prompt \"" + name + "\" has no version \"" + ref +
                     "\" in the history of HEAD (see promptops log " + name + ")");
  }
  return found;
}

} // namespace promptops::registry
