#include "registry/remote.hpp"

#include "registry/git.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"
#include "util/text.hpp"

#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace promptops::registry {

namespace {

using Remote = git::Remote;

const std::string k_env_prefix = "refs/heads/promptops/env/";

std::string remote_url(git_remote* remote);

std::string branch_short(const std::string& env) {
  return "promptops/env/" + env;
}

std::string tracking_ref(const std::string& remote, const std::string& env) {
  return "refs/remotes/" + remote + "/promptops/env/" + env;
}

std::optional<git_oid> ref_target(git_repository* repo, const std::string& name) {
  git_oid id;
  const int rc = git_reference_name_to_id(&id, repo, name.c_str());
  if (rc == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  git::check(rc, "cannot read " + name);
  return id;
}

Remote lookup_remote(git_repository* repo, const std::string& name) {
  git::load_tls_certificates(); // every transfer starts here
  git_remote* raw = nullptr;
  const int rc = git_remote_lookup(&raw, repo, name.c_str());
  if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) {
    git_strarray names{nullptr, 0};
    git::check(git_remote_list(&names, repo), "cannot list the git remotes");
    std::vector<std::string> known(names.strings, names.strings + names.count);
    git_strarray_dispose(&names);
    if (known.empty()) {
      throw InputError("unknown remote \"" + name +
                       "\": this repository has no git remote (add one with \"git remote add " +
                       name + " URL\")");
    }
    std::string list;
    for (const auto& k : known) {
      list += (list.empty() ? "" : ", ") + k;
    }
    throw InputError("unknown remote \"" + name + "\"" + util::did_you_mean(name, known) +
                     " (remotes: " + list + ")");
  }
  git::check(rc, "cannot read git remote \"" + name + "\"");
  return Remote(raw);
}

// `3f2a1b0 "promote greet from staging to prod" by Ada`, or the bare id when the commit is
// not here.
std::string describe_commit(git_repository* repo, const git_oid& id) {
  git_commit* raw = nullptr;
  if (git_commit_lookup(&raw, repo, &id) < 0) {
    return git::oid_hex(id).substr(0, 7);
  }
  git::Commit commit(raw);
  const char* summary = git_commit_summary(commit.get());
  const git_signature* author = git_commit_author(commit.get());
  return git::oid_hex(id).substr(0, 7) + " " +
         util::text::quote(summary != nullptr ? summary : "") + " by " +
         util::text::shorten(author->name, 80);
}

// The subjects of the commits reachable from `from` and not from `hide`, newest first.
std::vector<std::string> subjects_between(git_repository* repo, const git_oid& from,
                                          const git_oid& hide) {
  git_revwalk* raw = nullptr;
  git::check(git_revwalk_new(&raw, repo), "cannot walk the history");
  git::Revwalk walk(raw);
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  git::check(git_revwalk_push(walk.get(), &from), "cannot walk the history");
  git::check(git_revwalk_hide(walk.get(), &hide), "cannot walk the history");
  std::vector<std::string> out;
  git_oid id;
  while (git_revwalk_next(&id, walk.get()) == 0) {
    git_commit* raw_commit = nullptr;
    git::check(git_commit_lookup(&raw_commit, repo, &id), "cannot read a commit");
    git::Commit commit(raw_commit);
    const char* summary = git_commit_summary(commit.get());
    out.push_back(git::oid_hex(id).substr(0, 7) + " " +
                  util::text::shorten(summary != nullptr ? summary : "", 80));
  }
  return out;
}

Divergence diverge(git_repository* repo, const git_oid& local, const git_oid& remote) {
  Divergence d;
  std::size_t ahead = 0;
  std::size_t behind = 0;
  git::check(git_graph_ahead_behind(&ahead, &behind, repo, &local, &remote),
             "cannot compare histories");
  d.local_only = static_cast<int>(ahead);
  d.remote_only = static_cast<int>(behind);
  d.local_newest = describe_commit(repo, local);
  d.remote_newest = describe_commit(repo, remote);
  if (ahead > 0) {
    d.local_subjects = subjects_between(repo, local, remote);
  }
  return d;
}

std::string commits(int n) {
  return std::to_string(n) + (n == 1 ? " commit" : " commits");
}

// Trampolines for libgit2's callbacks: no exception may cross its C frames (STYLE 24).
struct PushState {
  std::map<std::string, std::string> statuses; // refname -> "" (ok) or the remote's message
  std::exception_ptr error;
};

int on_push_update(const char* refname, const char* status, void* data) {
  auto* state = static_cast<PushState*>(data);
  try {
    state->statuses[refname] = status != nullptr ? status : "";
    return 0;
  } catch (...) {
    state->error = std::current_exception();
    return -1;
  }
}

// Every object a branch's new history brings is checked before anything reads it: the
// commits and trees are what promptops and git write, and no object is over the size promptops
// reads (git::k_max_object_bytes). Objects `known` says are here already are not walked.
class HistoryCheck {
public:
  HistoryCheck(git_repository* repo, std::function<bool(const git_oid&)> known)
      : m_repo(repo), m_known(std::move(known)) {}

  // Throws InputError naming `label` ("promptops/env/prod on origin") and the path.
  void check(const git_oid& tip, const std::string& label) {
    git::require_commit(m_repo, tip, label, "");
    std::vector<git_oid> queue{tip};
    while (!queue.empty()) {
      const git_oid id = queue.back();
      queue.pop_back();
      if (m_known(id) || !m_seen.insert(git::oid_hex(id)).second) {
        continue;
      }
      const git::Commit commit = git::lookup_commit(m_repo, id, label);
      check_tree(*git_commit_tree_id(commit.get()), label, "");
      for (unsigned i = 0; i < git_commit_parentcount(commit.get()); ++i) {
        queue.push_back(*git_commit_parent_id(commit.get(), i));
      }
    }
  }

private:
  // Iterative: a hostile tree may nest as deep as it likes.
  void check_tree(const git_oid& root, const std::string& label, const std::string& root_dir) {
    std::vector<std::pair<git_oid, std::string>> queue{{root, root_dir}};
    while (!queue.empty()) {
      const auto [id, dir] = queue.back();
      queue.pop_back();
      if (m_known(id) || !m_seen.insert(git::oid_hex(id)).second) {
        continue;
      }
      git::check_object_size(m_repo, id, label + ":" + dir);
      git_tree* raw = nullptr;
      git::check(git_tree_lookup(&raw, m_repo, &id), "cannot read " + label + ":" + dir);
      const git::Tree tree(raw);
      for (std::size_t i = 0; i < git_tree_entrycount(tree.get()); ++i) {
        const git_tree_entry* entry = git_tree_entry_byindex(tree.get(), i);
        const std::string path = dir + util::text::printable(git_tree_entry_name(entry));
        if (git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
          queue.emplace_back(*git_tree_entry_id(entry), path + "/");
        } else if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
          git::check_object_size(m_repo, *git_tree_entry_id(entry), label + ":" + path);
        }
      }
    }
  }

  git_repository* m_repo;
  std::function<bool(const git_oid&)> m_known;
  std::set<std::string> m_seen;
};

// The repository at `url` when it is one on this machine (a path or file:// URL), which
// libgit2 reaches through its local transport; std::nullopt otherwise.
std::optional<git::Repository> local_remote(const std::string& url) {
  std::string path = url.rfind("file://", 0) == 0 ? url.substr(7) : url;
  std::error_code ec;
  if (path.empty() || !std::filesystem::is_directory(path, ec)) {
    return std::nullopt;
  }
  git_repository* raw = nullptr;
  if (git_repository_open(&raw, path.c_str()) < 0) {
    return std::nullopt;
  }
  return git::Repository(raw);
}

struct Fetched {
  std::map<std::string, git_oid> tips;        // env -> the remote's tip
  std::map<std::string, std::string> refused; // env -> why its branch was not taken
};

// libgit2's local transport packs every object it sends in memory, a huge blob whole: a local
// remote's branches are checked in place, and a bad one is not fetched at all.
Fetched check_local_remote(git_repository* repo, const std::string& url, const std::string& name) {
  Fetched out;
  auto there = local_remote(url);
  if (!there) {
    return out;
  }
  git_odb* raw_odb = nullptr;
  git::check(git_repository_odb(&raw_odb, repo), "cannot open the object database");
  const std::unique_ptr<git_odb, git::GitDeleter<git_odb, git_odb_free>> odb(raw_odb);
  HistoryCheck check(there->get(),
                     [&](const git_oid& id) { return git_odb_exists(odb.get(), &id) == 1; });
  git_reference_iterator* raw_it = nullptr;
  git::check(git_reference_iterator_glob_new(&raw_it, there->get(), (k_env_prefix + "*").c_str()),
             "cannot list the branches of \"" + name + "\"");
  const std::unique_ptr<git_reference_iterator,
                        git::GitDeleter<git_reference_iterator, git_reference_iterator_free>>
      it(raw_it);
  const char* ref_name = nullptr;
  while (git_reference_next_name(&ref_name, it.get()) == 0) {
    const std::string env = std::string(ref_name).substr(k_env_prefix.size());
    git_oid tip;
    if (git_reference_name_to_id(&tip, there->get(), ref_name) < 0) {
      continue;
    }
    out.tips[env] = tip;
    try {
      check.check(tip, branch_short(env) + " on " + name);
    } catch (const InputError& e) {
      out.refused[env] = e.what();
    }
  }
  return out;
}

// The remote's environment branches (env -> tip) after fetching them into the tracking refs,
// and those refused (not fetched from a local remote; fetched but not to be taken otherwise).
Fetched fetch_environments(git_repository* repo, git_remote* remote, const std::string& name) {
  Fetched checked = check_local_remote(repo, remote_url(remote), name);
  std::vector<std::string> spec_texts;
  if (checked.refused.empty()) {
    spec_texts.push_back("+" + k_env_prefix + "*:refs/remotes/" + name + "/promptops/env/*");
  } else {
    for (const auto& [env, _] : checked.tips) {
      if (checked.refused.count(env) == 0) {
        spec_texts.push_back("+" + k_env_prefix + env + ":" + tracking_ref(name, env));
      }
    }
  }
  if (!spec_texts.empty()) {
    std::vector<char*> specs;
    for (auto& spec : spec_texts) {
      specs.push_back(spec.data());
    }
    const git_strarray refspecs{specs.data(), specs.size()};
    git_fetch_options options;
    git::check(git_fetch_options_init(&options, GIT_FETCH_OPTIONS_VERSION),
               "cannot set up the fetch");
    options.update_fetchhead = 0;
    options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    const std::string log = "promptops: fetch environments from " + name;
    git::check(git_remote_fetch(remote, &refspecs, &options, log.c_str()),
               "cannot fetch from \"" + name + "\"");
  }
  if (!checked.tips.empty() || !checked.refused.empty()) {
    return checked; // a local remote: its refs were read in place
  }
  // The advertisement stays readable after the fetch disconnects; it is the remote's truth,
  // also for branches deleted there, whose tracking refs a fetch leaves behind.
  const git_remote_head** heads = nullptr;
  std::size_t count = 0;
  git::check(git_remote_ls(&heads, &count, remote), "cannot list the branches of \"" + name + "\"");
  Fetched out;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string ref = heads[i]->name;
    if (ref.rfind(k_env_prefix, 0) == 0) {
      out.tips[ref.substr(k_env_prefix.size())] = heads[i]->oid;
    }
  }
  // Objects from another transport are in our own store now, not yet read by anyone: check
  // each new tip's history here, down to what the local branch or tracking ref already had.
  for (const auto& [env, tip] : out.tips) {
    const auto local = ref_target(repo, k_env_prefix + env);
    HistoryCheck check(repo,
                       [&](const git_oid& id) { return local && git_oid_equal(&id, &*local); });
    try {
      check.check(tip, branch_short(env) + " on " + name);
    } catch (const InputError& e) {
      out.refused[env] = e.what();
    }
  }
  return out;
}

// The branch HEAD points at ("refs/heads/..."), or "" when HEAD is detached or unreadable.
std::string head_branch(git_repository* repo) {
  git_reference* raw = nullptr;
  if (git_reference_lookup(&raw, repo, "HEAD") < 0) {
    return "";
  }
  git::Reference head(raw);
  const char* target = git_reference_symbolic_target(head.get());
  return target != nullptr ? target : "";
}

std::string remote_url(git_remote* remote) {
  const char* url = git_remote_url(remote);
  return url != nullptr ? url : "";
}

} // namespace

bool PushResult::rejected() const {
  for (const auto& e : environments) {
    if (e.status == PushStatus::rejected) {
      return true;
    }
  }
  return false;
}

bool PullResult::refused() const {
  for (const auto& e : environments) {
    if (e.status == PullStatus::diverged || e.status == PullStatus::conflict ||
        e.status == PullStatus::invalid) {
      return true;
    }
  }
  return false;
}

PushResult push(const Registry& registry, const std::string& remote_name) {
  git::RegistryRepository g = git::registry_repository(registry.root(), "\"promptops push\"");
  git_repository* repo = g.repo.get();
  Remote remote = lookup_remote(repo, remote_name);
  PushResult result;
  result.remote = remote_name;
  result.url = remote_url(remote.get());
  // Fetching first brings the remote's commits here, so a rejection can say what they are.
  const Fetched fetched = fetch_environments(repo, remote.get(), remote_name);
  const auto& remote_tips = fetched.tips;

  for (const auto& env : registry.config().environments) {
    EnvironmentPush e;
    e.env = env;
    e.branch = branch_short(env);
    const auto local = ref_target(repo, k_env_prefix + env);
    if (!local) {
      result.environments.push_back(std::move(e));
      continue;
    }
    e.new_commit = git::oid_hex(*local);
    const auto there = remote_tips.find(env);
    if (const auto bad = fetched.refused.find(env); bad != fetched.refused.end()) {
      e.old_commit = git::oid_hex(there->second);
      e.status = PushStatus::rejected;
      e.message = bad->second;
      result.environments.push_back(std::move(e));
      continue;
    }
    if (there != remote_tips.end()) {
      e.old_commit = git::oid_hex(there->second);
      if (git_oid_equal(&there->second, &*local)) {
        e.status = PushStatus::up_to_date;
        result.environments.push_back(std::move(e));
        continue;
      }
      if (git_graph_descendant_of(repo, &*local, &there->second) != 1) {
        e.status = PushStatus::rejected;
        e.divergence = diverge(repo, *local, there->second);
        e.message = e.branch + " on " + remote_name + " has promotions you do not have (" +
                    commits(e.divergence.remote_only) + ", newest " + e.divergence.remote_newest +
                    "); run promptops pull first";
        result.environments.push_back(std::move(e));
        continue;
      }
    }

    // Fast-forward only: no '+', so libgit2 refuses unless the remote's tip is an ancestor of
    // ours, also when it moved since the fetch.
    const std::string ref = k_env_prefix + env;
    const std::string spec = ref + ":" + ref;
    char* specs[] = {const_cast<char*>(spec.c_str())};
    const git_strarray refspecs{specs, 1};
    PushState state;
    git_push_options options;
    git::check(git_push_options_init(&options, GIT_PUSH_OPTIONS_VERSION), "cannot set up the push");
    options.callbacks.push_update_reference = on_push_update;
    options.callbacks.payload = &state;
    const int rc = git_remote_push(remote.get(), &refspecs, &options);
    if (state.error) {
      std::rethrow_exception(state.error);
    }
    if (rc == GIT_ENONFASTFORWARD) {
      e.status = PushStatus::rejected;
      e.message = e.branch + " on " + remote_name +
                  " moved while this push ran and has promotions you do not have; run promptops "
                  "pull first";
      result.environments.push_back(std::move(e));
      continue;
    }
    git::check(rc, "cannot push " + e.branch + " to \"" + remote_name + "\"");
    const auto status = state.statuses.find(ref);
    if (status != state.statuses.end() && !status->second.empty()) {
      e.status = PushStatus::rejected;
      e.message = remote_name + " refused " + e.branch + ": " + status->second;
      result.environments.push_back(std::move(e));
      continue;
    }
    // Keep the tracking ref in step, whatever the remote's configured fetch refspec is.
    git_reference* raw_ref = nullptr;
    const std::string log = "promptops push: " + e.branch + " to " + remote_name;
    git::check(git_reference_create(&raw_ref, repo, tracking_ref(remote_name, env).c_str(), &*local,
                                    1, log.c_str()),
               "cannot update " + tracking_ref(remote_name, env));
    git::Reference tracking(raw_ref);
    e.status = PushStatus::pushed;
    result.environments.push_back(std::move(e));
  }
  return result;
}

PullResult pull(const Registry& registry, const std::string& remote_name) {
  git::RegistryRepository g = git::registry_repository(registry.root(), "\"promptops pull\"");
  git_repository* repo = g.repo.get();
  Remote remote = lookup_remote(repo, remote_name);
  PullResult result;
  result.remote = remote_name;
  result.url = remote_url(remote.get());
  const Fetched fetched = fetch_environments(repo, remote.get(), remote_name);
  const auto& remote_tips = fetched.tips;
  const std::string head = head_branch(repo);

  for (const auto& env : registry.config().environments) {
    EnvironmentPull e;
    e.env = env;
    e.branch = branch_short(env);
    const std::string ref = k_env_prefix + env;
    const auto local = ref_target(repo, ref);
    if (local) {
      e.old_commit = git::oid_hex(*local);
      e.new_commit = e.old_commit;
    }
    const auto there = remote_tips.find(env);
    if (there == remote_tips.end()) {
      result.environments.push_back(std::move(e));
      continue;
    }
    const git_oid theirs = there->second;
    e.remote_commit = git::oid_hex(theirs);
    if (const auto bad = fetched.refused.find(env); bad != fetched.refused.end()) {
      e.status = PullStatus::invalid;
      e.message = bad->second + ". Nothing was changed";
      result.environments.push_back(std::move(e));
      continue;
    }
    if (local && git_oid_equal(&*local, &theirs)) {
      e.status = PullStatus::up_to_date;
      result.environments.push_back(std::move(e));
      continue;
    }
    if (local && git_graph_descendant_of(repo, &theirs, &*local) != 1) {
      e.divergence = diverge(repo, *local, theirs);
      if (e.divergence.remote_only == 0) {
        e.status = PullStatus::ahead;
      } else {
        e.status = PullStatus::diverged;
        e.message = e.branch + " has diverged from " + remote_name + ": yours is at " +
                    e.divergence.local_newest + ", with " + commits(e.divergence.local_only) + " " +
                    remote_name + " lacks; " + remote_name + "'s is at " +
                    e.divergence.remote_newest + ", with " + commits(e.divergence.remote_only) +
                    " you lack. Nothing was changed. To resolve, promote again on top of " +
                    remote_name + "'s: move your branch there (git branch -f " + e.branch + " " +
                    remote_name + "/" + e.branch +
                    "; your promotions stay in the reflog), then redo what you promoted";
      }
      result.environments.push_back(std::move(e));
      continue;
    }
    if (head == ref) {
      // Moving a checked-out branch would change HEAD's commit under the work tree.
      e.status = PullStatus::conflict;
      e.message = e.branch + " is checked out here; pulling would move it under your work "
                             "tree. Check out another branch and pull again";
      result.environments.push_back(std::move(e));
      continue;
    }

    // Compare-and-swap under the ref's lock: the zero id means "must not exist yet".
    git_oid expected{};
    if (local) {
      expected = *local;
    }
    const std::string log = std::string("promptops pull: ") + (local ? "fast-forward" : "create") +
                            " from " + remote_name;
    git_reference* raw_ref = nullptr;
    const int rc = git_reference_create_matching(&raw_ref, repo, ref.c_str(), &theirs, 1, &expected,
                                                 log.c_str());
    git::Reference updated(raw_ref);
    if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED || rc == GIT_EEXISTS) {
      e.status = PullStatus::conflict;
      e.message = e.branch + " moved while this pull ran (a promotion here?); nothing was "
                             "changed; run promptops pull again";
      result.environments.push_back(std::move(e));
      continue;
    }
    git::check(rc, "cannot move " + e.branch);
    e.status = local ? PullStatus::fast_forwarded : PullStatus::created;
    e.new_commit = e.remote_commit;
    result.environments.push_back(std::move(e));
  }
  return result;
}

std::string to_string(PushStatus status) {
  switch (status) {
  case PushStatus::pushed:
    return "pushed";
  case PushStatus::up_to_date:
    return "up_to_date";
  case PushStatus::rejected:
    return "rejected";
  case PushStatus::not_promoted:
    return "not_promoted";
  }
  return "unknown";
}

std::string to_string(PullStatus status) {
  switch (status) {
  case PullStatus::created:
    return "created";
  case PullStatus::fast_forwarded:
    return "fast_forwarded";
  case PullStatus::up_to_date:
    return "up_to_date";
  case PullStatus::ahead:
    return "ahead";
  case PullStatus::diverged:
    return "diverged";
  case PullStatus::conflict:
    return "conflict";
  case PullStatus::not_on_remote:
    return "not_on_remote";
  case PullStatus::invalid:
    return "invalid";
  }
  return "unknown";
}

} // namespace promptops::registry
