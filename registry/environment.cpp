#include "registry/environment.hpp"

#include "registry/environment_move.hpp"
#include "registry/git.hpp"
#include "registry/history.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

namespace promptops::registry {

namespace {

// 1 -> "1", 0.975 -> "0.975": no trailing zeros in commit trailers.
std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

std::string branch_short(const std::string& env) {
  return environment_branch(env).substr(std::string("refs/heads/").size());
}

void check_environment(const Registry& registry, const std::string& env) {
  const auto& envs = registry.config().environments;
  if (std::find(envs.begin(), envs.end(), env) == envs.end()) {
    throw InputError("unknown environment \"" + env + "\"" + util::did_you_mean(env, envs) +
                     " (environments are listed in " + registry.config().display_path + ")");
  }
}

bool is_protected(const Registry& registry, const std::string& env) {
  const auto& p = registry.config().protected_environments;
  return std::find(p.begin(), p.end(), env) != p.end();
}

// The environment promotions into `env` come from by default: the one before it, or HEAD.
std::string default_source(const Registry& registry, const std::string& env) {
  const auto& envs = registry.config().environments;
  auto it = std::find(envs.begin(), envs.end(), env);
  return it == envs.begin() ? "HEAD" : *(it - 1);
}

git::Signature signature(git_repository* repo) {
  git_signature* raw = nullptr;
  const char* name = std::getenv("GIT_AUTHOR_NAME");
  const char* email = std::getenv("GIT_AUTHOR_EMAIL");
  if (name != nullptr && *name != '\0' && email != nullptr && *email != '\0') {
    git::check(git_signature_now(&raw, name, email), "bad GIT_AUTHOR_NAME or GIT_AUTHOR_EMAIL");
    return git::Signature(raw);
  }
  const int rc = git_signature_default(&raw, repo);
  if (rc == GIT_ENOTFOUND) {
    throw InputError("no git identity to record who moved the environment: set one with "
                     "\"git config user.name\" and \"git config user.email\", or "
                     "GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL");
  }
  git::check(rc, "cannot read the git identity");
  return git::Signature(raw);
}

// The tip of `env`'s branch, or std::nullopt when nothing was promoted yet.
// Throws InputError when the branch points at something else than a commit.
std::optional<git::Commit> environment_tip(git_repository* repo, const std::string& env) {
  return git::branch_commit(repo, environment_branch(env));
}

// Calls visit(commit) for each commit of `env`'s first-parent history from `tip`, newest
// first. Each commit's size is checked before it is loaded (a branch may come from a remote).
template <typename Visit>
void walk_first_parents(git_repository* repo, const std::string& env, git::Commit tip,
                        Visit visit) {
  std::optional<git::Commit> commit = std::move(tip);
  while (commit) {
    std::optional<git_oid> parent;
    if (git_commit_parentcount(commit->get()) > 0) {
      parent = *git_commit_parent_id(commit->get(), 0);
    }
    visit(commit->get());
    commit.reset();
    if (parent) {
      commit = git::lookup_commit(repo, *parent, branch_short(env));
    }
  }
}

git::Tree empty_tree(git_repository* repo) {
  git_treebuilder* raw_builder = nullptr;
  git::check(git_treebuilder_new(&raw_builder, repo, nullptr), "cannot build a tree");
  git_oid id;
  const int rc = git_treebuilder_write(&id, raw_builder);
  git_treebuilder_free(raw_builder);
  git::check(rc, "cannot write a tree");
  git_tree* raw = nullptr;
  git::check(git_tree_lookup(&raw, repo, &id), "cannot read a tree");
  return git::Tree(raw);
}

git::Tree commit_tree(const git_commit* commit) {
  git_tree* raw = nullptr;
  git::check(git_commit_tree(&raw, commit), "cannot read a commit's tree");
  return git::Tree(raw);
}

git::Tree update_tree(git_repository* repo, const git_tree* baseline,
                      const std::vector<git_tree_update>& updates) {
  git_oid id;
  git::check(git_tree_create_updated(&id, repo, const_cast<git_tree*>(baseline), updates.size(),
                                     updates.data()),
             "cannot build the environment's tree");
  git_tree* raw = nullptr;
  git::check(git_tree_lookup(&raw, repo, &id), "cannot read a tree");
  return git::Tree(raw);
}

int history_number(const Registry& registry, const std::string& name, const std::string& id) {
  try {
    for (const auto& e : prompt_history(registry, name)) {
      if (e.id == id) {
        return e.number;
      }
    }
  } catch (const Error&) {
  }
  return 0;
}

// The tip's tree with the plan's upserts written, then its removals dropped.
git::Tree write_tree(git_repository* repo, const git_tree* tip_tree, const MovePlan& plan) {
  std::vector<git_tree_update> upserts;
  for (const auto& u : plan.upserts) {
    git_tree_update update{};
    update.action = GIT_TREE_UPDATE_UPSERT;
    git::check(git_oid_fromstr(&update.id, u.file_id.c_str()), "bad blob id " + u.file_id);
    update.filemode = GIT_FILEMODE_BLOB;
    update.path = u.path.c_str();
    upserts.push_back(update);
  }
  git::Tree tree = update_tree(repo, tip_tree, upserts);
  if (plan.removals.empty()) {
    return tree;
  }
  std::vector<git_tree_update> removals;
  for (const auto& path : plan.removals) {
    git_tree_update update{};
    update.action = GIT_TREE_UPDATE_REMOVE;
    update.path = path.c_str();
    removals.push_back(update);
  }
  return update_tree(repo, tree.get(), removals);
}

// Move `env`'s branch from `old_id` (the zero id: it must not exist) to `new_id`, or throw
// RunError when it moved meanwhile or is locked. Compare-and-swap under the ref's lock: for a
// new branch the expected old value is the zero id, which libgit2 reads as "must not exist"
// under that lock; a plain create without force checks existence before taking the lock,
// and two racing creators could both win (seen in the race test).
void move_branch(git_repository* repo, const std::string& env, const git_oid& new_id,
                 const git_oid& old_id, const std::string& log) {
  git_reference* raw_ref = nullptr;
  const int rc = git_reference_create_matching(&raw_ref, repo, environment_branch(env).c_str(),
                                               &new_id, 1, &old_id, log.c_str());
  git::Reference ref(raw_ref);
  // A racing writer holds the ref's lock for a moment; one still there a second later was left
  // by a process killed while it moved the branch, and git never removes it: no rerun wins.
  const std::string lock =
      std::string(git_repository_commondir(repo)) + environment_branch(env) + ".lock";
  bool stale_lock = rc == GIT_ELOCKED;
  for (int i = 0; stale_lock && i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stale_lock = std::filesystem::exists(lock);
  }
  if (stale_lock) {
    throw RunError("registry conflict: " + branch_short(env) + " is locked by " + lock +
                   ". Nothing was written. Another promotion or rollback may be running; if "
                   "none is, one was killed while it moved the branch: remove that file and run "
                   "the promotion again");
  }
  if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED || rc == GIT_EEXISTS) {
    // Say what was found: another tip (environment_tip throws for one that is no commit), a
    // lock file, or no branch at all.
    std::string now_at = "it no longer exists";
    if (auto current = environment_tip(repo, env)) {
      const git_signature* author = git_commit_author(current->get());
      const char* summary = git_commit_summary(current->get());
      now_at = "it is now at " + git::oid_hex(*git_commit_id(current->get())).substr(0, 7) + " (" +
               util::text::shorten(summary ? summary : "", 80) + ", by " +
               util::text::shorten(author->name, 80) + ")";
    } else if (std::filesystem::exists(lock)) {
      now_at = "another process holds its lock, " + lock;
    }
    throw RunError("registry conflict: " + branch_short(env) + " moved while this promotion ran; " +
                   now_at + ". Nothing was written; run the promotion again");
  }
  git::check(rc, "cannot move " + branch_short(env));
}

// Pin `prompts` into `env` as one commit and move the branch by compare-and-swap.
MoveResult write_move(const Registry& registry, const git::RegistryRepository& g,
                      const std::string& env, const std::vector<MovingPrompt>& prompts,
                      const Move& move) {
  git_repository* repo = g.repo.get();
  auto tip = environment_tip(repo, env);
  MoveResult result;
  git_oid old_id{};
  if (tip) {
    old_id = *git_commit_id(tip->get());
    result.previous = git::oid_hex(old_id);
  }
  git::Tree baseline = tip ? commit_tree(tip->get()) : empty_tree(repo);
  const git::TreeSource before(g.repo, tip ? commit_tree(tip->get()) : empty_tree(repo), "", env);
  MovePlan plan = plan_move(before, env, prompts);
  if (plan.changes.empty()) {
    return result; // nothing to write
  }
  const git::Tree updated = write_tree(repo, baseline.get(), plan);
  if (tip && git_oid_equal(git_tree_id(updated.get()), git_tree_id(baseline.get()))) {
    return result; // nothing to write
  }
  result.changes = std::move(plan.changes);
  // The vN of each version walks that prompt's history: worth it for the handful a person
  // reads, not for a bulk move of thousands (94 s at 5,000 prompts), which shows ids only.
  if (result.changes.size() <= k_listed_changes) {
    for (auto& change : result.changes) {
      change.number = history_number(registry, change.name, change.to_version);
    }
  }

  const git::Signature sig = signature(repo);
  const std::string message =
      move_message(move, result.changes, {sig->name, sig->email, sig->when.time});
  const git_commit* parents[1] = {tip ? tip->get() : nullptr};
  git_oid new_id;
  git::check(git_commit_create(&new_id, repo, nullptr, sig.get(), sig.get(), "UTF-8",
                               message.c_str(), updated.get(), tip ? 1 : 0, parents),
             "cannot write the promotion commit");
  move_branch(repo, env, new_id, old_id, move.subject);
  result.commit = git::oid_hex(new_id);
  return result;
}

std::shared_ptr<const git::TreeSource>
tree_source(const git::RegistryRepository& g, const std::string& ref, const std::string& label) {
  const bool env_branch = ref.rfind("refs/heads/promptops/env/", 0) == 0;
  auto commit =
      env_branch ? git::branch_commit(g.repo.get(), ref) : git::find_commit(g.repo.get(), ref);
  if (!commit) {
    return nullptr;
  }
  return std::make_shared<const git::TreeSource>(g.repo, std::move(*commit),
                                                 env_branch ? "" : g.prefix, label);
}

ResolvedPrompt resolve_in(const Registry& registry, const git::TreeSource& source,
                          const std::string& name, const std::string& where) {
  const std::string path = prompt_path(name);
  auto text = source.read(path);
  if (!text) {
    throw InputError("prompt \"" + name + "\" is not in " + where +
                     util::did_you_mean(name, registry.prompt_names(&source)));
  }
  Prompt prompt = parse_prompt(name, *text, path, source.display(path));
  return resolve_prompt(std::move(prompt), source, where);
}

std::string evidence_text(const Evidence& e) {
  std::string out = e.run_id.empty() ? "" : "run " + e.run_id;
  if (e.pass_rate) {
    out += (out.empty() ? "" : ", ") + std::string("pass rate ") + format_number(*e.pass_rate);
  }
  return out;
}

} // namespace

bool is_protected_environment(const Registry& registry, const std::string& env) {
  return is_protected(registry, env);
}

std::string promotion_source(const Registry& registry, const std::string& to) {
  return default_source(registry, to);
}

MoveResult promote(const Registry& registry, const PromoteRequest& request) {
  check_environment(registry, request.to);
  if (request.prompts.empty()) {
    throw UsageError("name at least one prompt to promote");
  }
  const std::string from =
      request.from.empty() ? default_source(registry, request.to) : request.from;
  if (from != "HEAD") {
    check_environment(registry, from);
  }
  if (from == request.to) {
    throw UsageError("cannot promote from \"" + from + "\" into itself");
  }
  if (request.force == Force::yes && request.reason.empty()) {
    throw UsageError("--force needs --reason TEXT, which is recorded in the promotion");
  }
  if (!request.reason.empty()) {
    check_trailer_value(request.reason, "--reason");
  }
  if (is_protected(registry, request.to) && request.evidence.empty() &&
      request.force == Force::no) {
    throw Error("\"" + request.to +
                    "\" is protected: promotion needs the evidence of a passing "
                    "gate for the exact version (promptops promote finds it in the runs), or "
                    "--force --reason TEXT",
                1);
  }
  for (const auto& name : request.prompts) {
    check_name(name, "prompt");
  }
  git::RegistryRepository g = git::registry_repository(registry.root(), "promotion");
  const std::string source_ref = from == "HEAD" ? "HEAD" : environment_branch(from);
  auto source = tree_source(g, source_ref, from);
  if (!source) {
    throw InputError(from == "HEAD" ? "nothing to promote: the repository has no commits yet"
                                    : "environment \"" + from + "\" has nothing promoted yet");
  }
  std::vector<MovingPrompt> pins;
  std::set<std::string> seen;
  for (const auto& name : request.prompts) {
    if (seen.insert(name).second) {
      pins.push_back({resolve_in(registry, *source, name, from), source.get()});
    }
  }

  Move move;
  // A subject line stays a line: past a handful of names it gives the count and the first
  // three (all of them are in the trailers).
  constexpr std::size_t k_names_in_subject = 5;
  std::string names;
  for (std::size_t i = 0;
       i < pins.size() && i < (pins.size() > k_names_in_subject ? 3 : pins.size()); ++i) {
    names += (names.empty() ? "" : ", ") + pins[i].resolved.prompt.name;
  }
  if (pins.size() > k_names_in_subject) {
    names = std::to_string(pins.size()) + " prompts (" + names + ", ...)";
  }
  move.subject = "promote " + names + " from " + from + " to " + request.to;
  const git_commit* source_commit = source->commit();
  move.trailers.emplace_back("Promoted-From",
                             from + " " + git::oid_hex(*git_commit_id(source_commit)));
  const Evidence& e = request.evidence;
  if (!e.run_id.empty()) {
    move.trailers.emplace_back("Evidence-Run", e.run_id);
  }
  if (e.pass_rate) {
    move.trailers.emplace_back("Evidence-Pass-Rate", format_number(*e.pass_rate));
  }
  if (e.regressions) {
    move.trailers.emplace_back("Evidence-Regressions", std::to_string(*e.regressions));
  }
  if (e.drift) {
    move.trailers.emplace_back("Evidence-Drift", *e.drift);
  }
  if (request.force == Force::yes) {
    move.trailers.emplace_back("Forced", "yes");
    move.trailers.emplace_back("Reason", request.reason);
  } else if (!request.reason.empty()) {
    move.trailers.emplace_back("Reason", request.reason);
  }
  if (!e.empty()) {
    move.body.push_back("\nEvidence: " + evidence_text(e));
  }
  return write_move(registry, g, request.to, pins, move);
}

MoveResult rollback(const Registry& registry, const RollbackRequest& request) {
  check_environment(registry, request.env);
  check_name(request.prompt, "prompt");
  if (!request.reason.empty()) {
    check_trailer_value(request.reason, "--reason");
  }
  git::RegistryRepository g = git::registry_repository(registry.root(), "rollback");
  auto tip = environment_tip(g.repo.get(), request.env);
  if (!tip) {
    throw InputError("environment \"" + request.env + "\" has nothing promoted yet");
  }
  // The versions this environment pinned, newest first, with the commit that pinned each.
  struct Pinned {
    std::string version, commit;
  };
  std::vector<Pinned> pinned;
  walk_first_parents(g.repo.get(), request.env, std::move(*tip), [&](const git_commit* c) {
    const std::string id = git::oid_hex(*git_commit_id(c));
    auto source = tree_source(g, id, request.env + "@" + id.substr(0, 7));
    try {
      const auto r = resolve_in(registry, *source, request.prompt, request.env);
      if (pinned.empty() || pinned.back().version != r.version) {
        pinned.push_back({r.version, id});
      }
    } catch (const Error&) {
      if (pinned.empty()) {
        throw InputError("prompt \"" + request.prompt + "\" is not pinned in \"" + request.env +
                         "\": nothing to roll back");
      }
    }
  });
  std::shared_ptr<const git::TreeSource> source;
  std::string target;
  if (request.to.empty()) {
    if (pinned.size() < 2) {
      throw InputError("\"" + request.prompt + "\" has had only one version in \"" + request.env +
                       "\": nothing to roll back to (use --to VERSION)");
    }
    target = pinned[1].version;
    source = tree_source(g, pinned[1].commit, request.env);
  } else {
    // A version this environment pinned before, else one from HEAD's history.
    const auto history = prompt_history(registry, request.prompt);
    const auto entry = find_version(history, request.prompt, request.to);
    if (!entry) {
      throw InputError("--to \"" + request.to + "\": expected vN or a version id prefix");
    }
    target = entry->id;
    for (const auto& p : pinned) {
      if (p.version == target) {
        source = tree_source(g, p.commit, request.env);
        break;
      }
    }
    if (!source) {
      source = tree_source(g, entry->commit, entry->commit.substr(0, 7));
    }
    if (entry->name != request.prompt) {
      throw InputError("version " + request.to + " of \"" + request.prompt + "\" was named \"" +
                       entry->name + "\" then; promote it under its name instead");
    }
  }
  std::vector<MovingPrompt> pins;
  pins.push_back({resolve_in(registry, *source, request.prompt, request.env), source.get()});
  Move move;
  move.subject = "rollback " + request.prompt + " in " + request.env + " to " +
                 version_label(history_number(registry, request.prompt, target), target);
  move.trailers.emplace_back("Rollback-Of", request.prompt + " " + pinned.front().version);
  if (!request.reason.empty()) {
    move.trailers.emplace_back("Reason", request.reason);
  }
  return write_move(registry, g, request.env, pins, move);
}

std::vector<EnvironmentState> list_environments(const Registry& registry) {
  git::RegistryRepository g = git::registry_repository(registry.root(), "\"promptops env\"");
  std::vector<EnvironmentState> out;
  // A prompt's version and the blob id of every file it is made of, in one source. When a
  // prompt's files have the same blob ids in the next environment, so has its version, and
  // it need not be parsed again (environments mostly pin what their source has).
  struct Known {
    std::string version;
    std::vector<std::pair<std::string, git_oid>> files;
    bool reusable = true;
  };
  using Versions = std::map<std::string, Known>;
  std::vector<Versions> seen; // HEAD's, then each environment's
  auto resolve_all = [&](const git::TreeSource& source, const std::string& where) {
    Versions versions;
    for (const auto& name : registry.prompt_names(&source)) {
      const Known* reuse = nullptr;
      for (auto earlier = seen.rbegin(); earlier != seen.rend() && reuse == nullptr; ++earlier) {
        auto it = earlier->find(name);
        if (it != earlier->end() && it->second.reusable &&
            std::all_of(it->second.files.begin(), it->second.files.end(), [&](const auto& f) {
              const auto id = source.blob_id(f.first);
              return id && git_oid_equal(&*id, &f.second);
            })) {
          reuse = &it->second;
        }
      }
      if (reuse != nullptr) {
        versions.emplace(name, *reuse);
        continue;
      }
      try {
        const ResolvedPrompt r = resolve_in(registry, source, name, where);
        Known known{r.version, {}, true};
        for (const auto& f : files_of(r)) {
          const auto id = source.blob_id(f);
          if (!id) {
            known.reusable = false; // cannot happen for a file just read; never reuse then
            break;
          }
          known.files.emplace_back(f, *id);
        }
        versions.emplace(name, std::move(known));
      } catch (const git::ObjectTooLarge&) {
        throw; // hostile, not merely broken: say so
      } catch (const Error&) {
      }
    }
    return versions;
  };
  Versions previous_versions; // source's pins: name -> version
  {
    auto head = tree_source(g, "HEAD", "HEAD");
    if (head) {
      previous_versions = resolve_all(*head, "HEAD");
    }
  }
  std::string source_name = "HEAD";
  for (const auto& env : registry.config().environments) {
    EnvironmentState state;
    state.name = env;
    state.source = source_name;
    Versions versions;
    if (auto tip = environment_tip(g.repo.get(), env)) {
      state.tip = git::oid_hex(*git_commit_id(tip->get()));
      state.time = static_cast<std::int64_t>(git_commit_time(tip->get()));
      const git_signature* author = git_commit_author(tip->get());
      state.author = author->name;
      auto source = tree_source(g, environment_branch(env), env);
      state.invalid_files = invalid_prompt_files(*source);
      versions = resolve_all(*source, env);
    }
    std::set<std::string> names;
    for (const auto& [n, _] : versions) {
      names.insert(n);
    }
    for (const auto& [n, _] : previous_versions) {
      names.insert(n);
    }
    for (const auto& n : names) {
      auto v = versions.find(n);
      auto p = previous_versions.find(n);
      Pin pin{n, v != versions.end() ? v->second.version : "",
              p != previous_versions.end() ? p->second.version : ""};
      state.pins.push_back(pin);
    }
    out.push_back(std::move(state));
    seen.push_back(std::move(previous_versions));
    previous_versions = std::move(versions);
    source_name = env;
  }
  return out;
}

std::vector<HistoryEntry> environment_history(const Registry& registry, const std::string& env) {
  check_environment(registry, env);
  git::RegistryRepository g =
      git::registry_repository(registry.root(), "\"promptops env history\"");
  auto tip = environment_tip(g.repo.get(), env);
  if (!tip) {
    return {};
  }
  std::vector<HistoryEntry> out;
  walk_first_parents(g.repo.get(), env, std::move(*tip), [&](const git_commit* c) {
    HistoryEntry e;
    e.commit = git::oid_hex(*git_commit_id(c));
    e.time = static_cast<std::int64_t>(git_commit_time(c));
    e.time_offset = git_commit_time_offset(c);
    const git_signature* author = git_commit_author(c);
    e.author = std::string(author->name) + " <" + author->email + ">";
    const char* summary = git_commit_summary(const_cast<git_commit*>(c));
    e.subject = summary ? summary : "";
    e.trailers = trusted_trailers(git_commit_message(c));
    out.push_back(std::move(e));
  });
  return out;
}

} // namespace promptops::registry
