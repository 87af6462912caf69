#include "registry/environment.hpp"

#include "registry/history.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

namespace promptops::registry {

namespace {

std::string oid_hex(const git_oid& id) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &id);
  return hex;
}

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
std::optional<git::Commit> environment_tip(git_repository* repo, const std::string& env) {
  return git::find_commit(repo, environment_branch(env));
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

// Every file a resolved prompt consists of, as registry-relative paths.
std::vector<std::string> files_of(const ResolvedPrompt& r) {
  std::vector<std::string> files{r.prompt.path};
  for (const auto& [partial, _] : r.partials) {
    files.push_back(partial_path(partial));
  }
  if (!r.prompt.output_schema.empty()) {
    files.push_back(
        std::filesystem::path(r.prompt.output_schema).lexically_normal().generic_string());
  }
  return files;
}

// Every file below the tree's root, as paths.
std::vector<std::string> all_files(const git_tree* tree) {
  std::vector<std::string> out;
  struct State {
    std::vector<std::string>* out;
  } state{&out};
  git::check(git_tree_walk(
                 tree, GIT_TREEWALK_PRE,
                 [](const char* root, const git_tree_entry* entry, void* payload) -> int {
                   if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
                     try {
                       static_cast<State*>(payload)->out->push_back(std::string(root) +
                                                                    git_tree_entry_name(entry));
                     } catch (...) {
                       return -1; // no exception crosses libgit2's frames
                     }
                   }
                   return 0;
                 },
                 &state),
             "cannot list a tree");
  return out;
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

std::string version_label(int number, const std::string& id) {
  return (number > 0 ? "v" + std::to_string(number) + " " : std::string()) + id.substr(0, 12);
}

// A move of more prompts than this is written and reported in bulk: ids without vN, and no
// line per prompt in the commit message.
constexpr std::size_t k_listed_changes = 50;

struct Move {
  std::string env;
  std::string subject;
  std::vector<std::string> body; // lines before the trailers
  std::vector<std::pair<std::string, std::string>> trailers;
};

// An environment holds one copy of each partial and schema. When a move changes one that a
// prompt which is not moving also uses, that prompt's version would change in place: the
// environment would serve a version nobody promoted, on no evidence. Refuse, and name them.
void refuse_silent_changes(
    const Registry& registry, const git::TreeSource& before, const std::string& env,
    const std::vector<std::pair<ResolvedPrompt, const git::TreeSource*>>& pins,
    const std::vector<std::string>& paths, const std::vector<git_tree_update>& updates) {
  std::set<std::string> moving;
  for (const auto& [resolved, _] : pins) {
    moving.insert(resolved.prompt.name);
  }
  std::set<std::string> changed; // shared files whose bytes this move changes
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].rfind("prompts/partials/", 0) != 0 && paths[i].rfind("prompts/", 0) == 0) {
      continue; // a moving prompt's own file
    }
    const auto id = before.blob_id(paths[i]);
    if (id && !git_oid_equal(&*id, &updates[i].id)) {
      changed.insert(paths[i]);
    }
  }
  if (changed.empty()) {
    return;
  }
  std::vector<std::string> affected;
  std::set<std::string> through;
  for (const auto& name : registry.prompt_names(&before)) {
    if (moving.count(name) != 0) {
      continue;
    }
    try {
      const std::string path = prompt_path(name);
      Prompt prompt = parse_prompt(name, *before.read(path), path, before.display(path));
      for (const auto& f : files_of(resolve_prompt(std::move(prompt), before, env))) {
        if (changed.count(f) != 0) {
          affected.push_back(name);
          through.insert(f);
        }
      }
    } catch (const Error&) {
      // A pin that no longer parses is not made worse by this move.
    }
  }
  if (affected.empty()) {
    return;
  }
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
  std::string names, files, together;
  for (const auto& a : affected) {
    names += (names.empty() ? "" : ", ") + a;
  }
  for (const auto& f : through) {
    files += (files.empty() ? "" : ", ") + f;
  }
  for (const auto& m : moving) {
    together += " " + m;
  }
  for (const auto& a : affected) {
    together += " " + a;
  }
  throw InputError("this would change " + std::to_string(affected.size()) + " other prompt" +
                   (affected.size() == 1 ? "" : "s") + " pinned in " + env + " (" + names +
                   "): they use " + files + ", which this move changes, so " + env +
                   " would serve versions nobody promoted. Move them in the same command (e.g. "
                   "promptops promote" +
                   together + " --to " + env + ") once their new versions are tested");
}

// Write `pins` (prompt -> the source it comes from, already resolved) into `env` as one
// commit and move the branch by compare-and-swap.
MoveResult write_move(const Registry& registry, const Registry::Git& g, const std::string& env,
                      const std::vector<std::pair<ResolvedPrompt, const git::TreeSource*>>& pins,
                      Move move) {
  git_repository* repo = g.repo.get();
  auto tip = environment_tip(repo, env);
  MoveResult result;
  git_oid old_id{};
  if (tip) {
    old_id = *git_commit_id(tip->get());
    result.previous = oid_hex(old_id);
  }
  git::Tree baseline = tip ? commit_tree(tip->get()) : empty_tree(repo);
  git::TreeSource before(g.repo, tip ? commit_tree(tip->get()) : empty_tree(repo), "", env);

  // Upsert every file of every moved prompt, with the blob ids its source has. Prompts moved
  // together may share partials and schemas: each path goes in once (libgit2 refuses
  // duplicate updates), and all pins come from one source.
  std::vector<std::string> paths;
  std::vector<git_tree_update> updates;
  std::set<std::string> upserted;
  for (const auto& [resolved, source] : pins) {
    for (const auto& file : files_of(resolved)) {
      if (!upserted.insert(file).second) {
        continue;
      }
      auto id = source->blob_id(file);
      if (!id) {
        throw InputError("cannot find \"" + file + "\" in " + source->display(""));
      }
      paths.push_back(file);
      git_tree_update u{};
      u.action = GIT_TREE_UPDATE_UPSERT;
      u.id = *id;
      u.filemode = GIT_FILEMODE_BLOB;
      updates.push_back(u);
    }
  }
  for (std::size_t i = 0; i < updates.size(); ++i) {
    updates[i].path = paths[i].c_str();
  }
  refuse_silent_changes(registry, before, env, pins, paths, updates);
  git::Tree updated = update_tree(repo, baseline.get(), updates);

  // What each pin was before this move (for the stale files below and the changes after).
  std::vector<std::optional<ResolvedPrompt>> pinned_before;
  for (const auto& [resolved, source] : pins) {
    std::optional<ResolvedPrompt> previous;
    try {
      const std::string path = prompt_path(resolved.prompt.name);
      if (auto text = before.read(path)) {
        Prompt prompt = parse_prompt(resolved.prompt.name, *text, path, before.display(path));
        previous = resolve_prompt(std::move(prompt), before, env);
      }
    } catch (const Error&) {
    }
    pinned_before.push_back(std::move(previous));
  }

  // Keep exactly what the pinned prompts use: drop partials and schemas no prompt needs now.
  // The tip was written here, so it held exactly what its prompts used. A file can only have
  // become unused if a file whose bytes this move changed used it before (a moved prompt's
  // old version, a partial's old includes). When every such file is still used by the moved
  // prompts, nothing is stale and the other prompts need not be parsed; otherwise (or when
  // the old files cannot be read) every pinned prompt is resolved again.
  const bool check_everything = [&] {
    std::set<std::string> pinned_paths;
    for (const auto& [resolved, _] : pins) {
      pinned_paths.insert(resolved.prompt.path);
    }
    for (std::size_t i = 0; i < updates.size(); ++i) {
      const std::string& file = paths[i];
      const auto baseline_id = before.blob_id(file);
      if (!baseline_id || git_oid_equal(&*baseline_id, &updates[i].id)) {
        continue; // new here, or unchanged: it used nothing before that it does not now
      }
      std::vector<std::string> used_before;
      if (pinned_paths.count(file) != 0) {
        const auto it = std::find_if(pins.begin(), pins.end(), [&](const auto& pin) {
          return pin.first.prompt.path == file;
        });
        const auto& previous = pinned_before[static_cast<std::size_t>(it - pins.begin())];
        if (!previous) {
          return true;
        }
        used_before = files_of(*previous);
      } else if (file.rfind("prompts/partials/", 0) == 0) {
        // The partials this partial included, transitively, as it was.
        std::set<std::string> seen{file};
        std::vector<std::string> queue{file};
        while (!queue.empty()) {
          const std::string current = queue.back();
          queue.pop_back();
          used_before.push_back(current);
          const auto text = before.read(current);
          if (!text) {
            return true;
          }
          try {
            for (const auto& inner : mustache::Template::parse(*text).partials()) {
              const std::string inner_path = partial_path(inner);
              if (seen.insert(inner_path).second) {
                queue.push_back(inner_path);
              }
            }
          } catch (const mustache::TemplateSyntaxError&) {
            return true;
          }
        }
      } else if (file.rfind("prompts/", 0) == 0) {
        return true; // a prompt file that no pin is: not something this shortcut knows
      }
      for (const auto& f : used_before) {
        if (upserted.count(f) == 0) {
          return true;
        }
      }
    }
    return false;
  }();
  std::vector<std::string> stale;
  if (check_everything) {
    git_tree* raw_copy = nullptr;
    git::check(git_tree_dup(&raw_copy, updated.get()), "cannot read a tree");
    git::TreeSource after(g.repo, git::Tree(raw_copy), "", env);
    std::set<std::string> needed;
    for (const auto& name : registry.prompt_names(&after)) {
      const std::string path = prompt_path(name);
      Prompt prompt = parse_prompt(name, *after.read(path), path, after.display(path));
      for (const auto& f : files_of(resolve_prompt(std::move(prompt), after, env))) {
        needed.insert(f);
      }
    }
    for (const auto& f : all_files(updated.get())) {
      if (needed.count(f) == 0) {
        stale.push_back(f);
      }
    }
  }
  if (!stale.empty()) {
    std::vector<git_tree_update> removals;
    for (const auto& f : stale) {
      git_tree_update u{};
      u.action = GIT_TREE_UPDATE_REMOVE;
      u.path = f.c_str();
      removals.push_back(u);
    }
    updated = update_tree(repo, updated.get(), removals);
  }

  // Which pins changed.
  for (std::size_t i = 0; i < pins.size(); ++i) {
    const ResolvedPrompt& resolved = pins[i].first;
    PinChange change;
    change.name = resolved.prompt.name;
    change.to_version = resolved.version;
    if (pinned_before[i]) {
      change.from_version = pinned_before[i]->version;
    }
    if (change.from_version != change.to_version) {
      result.changes.push_back(change);
    }
  }
  // The vN of each version walks that prompt's history: worth it for the handful a person
  // reads, not for a bulk move of thousands (94 s at 5,000 prompts), which shows ids only.
  if (result.changes.size() <= k_listed_changes) {
    for (auto& change : result.changes) {
      change.number = history_number(registry, change.name, change.to_version);
    }
  }
  if (result.changes.empty() ||
      (tip && git_oid_equal(git_tree_id(updated.get()), git_tree_id(baseline.get())))) {
    result.changes.clear();
    return result; // nothing to write
  }

  // One readable line per moved prompt, up to a point: every reader of an environment's tip
  // (each `render NAME@prod`) inflates the whole message, and a promotion of 5,000 prompts
  // listed twice made it 600 KB.
  std::string message = move.subject + "\n\n";
  if (result.changes.size() <= k_listed_changes) {
    for (const auto& c : result.changes) {
      message += c.name + ": " + (c.from_version.empty() ? "(new)" : c.from_version.substr(0, 12)) +
                 " -> " + version_label(c.number, c.to_version) + "\n";
    }
  } else {
    message += std::to_string(result.changes.size()) +
               " prompts move; the tree holds their new versions (git diff this commit's "
               "parent and this commit).\n";
  }
  for (const auto& line : move.body) {
    message += line + "\n";
  }
  git::Signature sig = signature(repo);
  char when[32];
  const std::time_t now = static_cast<std::time_t>(sig->when.time);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  message += "\nPromoted-By: " + std::string(sig->name) + " <" + sig->email + ">\n";
  message += "Promoted-At: " + std::string(when) + "\n";
  // Every reader of the tip (each `render NAME@prod`) inflates the whole commit: 5,000
  // Prompt-Version trailers made it 450 KB and a render 2.3x `git show`. A bulk move records
  // how many moved; which versions is the difference between its tree and its parent's.
  if (result.changes.size() <= k_listed_changes) {
    for (const auto& c : result.changes) {
      message += "Prompt-Version: " + c.name + " " + c.to_version + "\n";
    }
  } else {
    message += "Prompts-Moved: " + std::to_string(result.changes.size()) + "\n";
  }
  for (const auto& [key, value] : move.trailers) {
    message += key + ": " + value + "\n";
  }

  const git_commit* parents[1] = {tip ? tip->get() : nullptr};
  git_oid new_id;
  git::check(git_commit_create(&new_id, repo, nullptr, sig.get(), sig.get(), "UTF-8",
                               message.c_str(), updated.get(), tip ? 1 : 0, parents),
             "cannot write the promotion commit");

  // Compare-and-swap under the ref's lock. For a new branch the expected old value is the
  // zero id, which libgit2 reads as "must not exist" under that lock; a plain create without
  // force checks existence before taking the lock, and two racing creators could both win
  // (seen in the race test).
  const std::string log = move.subject;
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
    std::string now_at = "another process holds its lock";
    if (auto current = environment_tip(repo, env)) {
      const git_signature* author = git_commit_author(current->get());
      const char* summary = git_commit_summary(current->get());
      now_at = "it is now at " + oid_hex(*git_commit_id(current->get())).substr(0, 7) + " (" +
               (summary ? summary : "") + ", by " + author->name + ")";
    }
    throw RunError("registry conflict: " + branch_short(env) + " moved while this promotion ran; " +
                   now_at + ". Nothing was written; run the promotion again");
  }
  git::check(rc, "cannot move " + branch_short(env));
  result.commit = oid_hex(new_id);
  return result;
}

std::shared_ptr<const git::TreeSource> tree_source(const Registry::Git& g, const std::string& ref,
                                                   const std::string& label) {
  auto commit = git::find_commit(g.repo.get(), ref);
  if (!commit) {
    return nullptr;
  }
  const bool env_branch = ref.rfind("refs/heads/promptops/env/", 0) == 0;
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
  Registry::Git g = registry.git("promotion");
  const std::string source_ref = from == "HEAD" ? "HEAD" : environment_branch(from);
  auto source = tree_source(g, source_ref, from);
  if (!source) {
    throw InputError(from == "HEAD" ? "nothing to promote: the repository has no commits yet"
                                    : "environment \"" + from + "\" has nothing promoted yet");
  }
  std::vector<std::pair<ResolvedPrompt, const git::TreeSource*>> pins;
  std::set<std::string> seen;
  for (const auto& name : request.prompts) {
    if (seen.insert(name).second) {
      pins.emplace_back(resolve_in(registry, *source, name, from), source.get());
    }
  }

  Move move;
  move.env = request.to;
  // A subject line stays a line: past a handful of names it gives the count and the first
  // three (all of them are in the trailers).
  constexpr std::size_t k_names_in_subject = 5;
  std::string names;
  for (std::size_t i = 0;
       i < pins.size() && i < (pins.size() > k_names_in_subject ? 3 : pins.size()); ++i) {
    names += (names.empty() ? "" : ", ") + pins[i].first.prompt.name;
  }
  if (pins.size() > k_names_in_subject) {
    names = std::to_string(pins.size()) + " prompts (" + names + ", ...)";
  }
  move.subject = "promote " + names + " from " + from + " to " + request.to;
  const git_commit* source_commit = source->commit();
  move.trailers.emplace_back("Promoted-From", from + " " + oid_hex(*git_commit_id(source_commit)));
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
  Registry::Git g = registry.git("rollback");
  auto tip = environment_tip(g.repo.get(), request.env);
  if (!tip) {
    throw InputError("environment \"" + request.env + "\" has nothing promoted yet");
  }
  // The versions this environment pinned, newest first, with the commit that pinned each.
  git_revwalk* raw_walk = nullptr;
  git::check(git_revwalk_new(&raw_walk, g.repo.get()), "cannot walk the history");
  git::Revwalk walk(raw_walk);
  git_revwalk_simplify_first_parent(walk.get());
  git::check(git_revwalk_push_ref(walk.get(), environment_branch(request.env).c_str()),
             "cannot walk the history");
  struct Pinned {
    std::string version, commit;
  };
  std::vector<Pinned> pinned;
  git_oid id;
  while (git_revwalk_next(&id, walk.get()) == 0) {
    auto source = tree_source(g, oid_hex(id), request.env + "@" + oid_hex(id).substr(0, 7));
    try {
      const auto r = resolve_in(registry, *source, request.prompt, request.env);
      if (pinned.empty() || pinned.back().version != r.version) {
        pinned.push_back({r.version, oid_hex(id)});
      }
    } catch (const Error&) {
      if (pinned.empty()) {
        throw InputError("prompt \"" + request.prompt + "\" is not pinned in \"" + request.env +
                         "\": nothing to roll back");
      }
    }
  }
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
  std::vector<std::pair<ResolvedPrompt, const git::TreeSource*>> pins;
  pins.emplace_back(resolve_in(registry, *source, request.prompt, request.env), source.get());
  Move move;
  move.env = request.env;
  move.subject = "rollback " + request.prompt + " in " + request.env + " to " +
                 version_label(history_number(registry, request.prompt, target), target);
  move.trailers.emplace_back("Rollback-Of", request.prompt + " " + pinned.front().version);
  if (!request.reason.empty()) {
    move.trailers.emplace_back("Reason", request.reason);
  }
  return write_move(registry, g, request.env, pins, move);
}

std::vector<EnvironmentState> list_environments(const Registry& registry) {
  Registry::Git g = registry.git("\"promptops env\"");
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
      state.tip = oid_hex(*git_commit_id(tip->get()));
      state.time = static_cast<std::int64_t>(git_commit_time(tip->get()));
      const git_signature* author = git_commit_author(tip->get());
      state.author = author->name;
      auto source = tree_source(g, environment_branch(env), env);
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
  Registry::Git g = registry.git("\"promptops env history\"");
  if (!environment_tip(g.repo.get(), env)) {
    return {};
  }
  git_revwalk* raw_walk = nullptr;
  git::check(git_revwalk_new(&raw_walk, g.repo.get()), "cannot walk the history");
  git::Revwalk walk(raw_walk);
  git_revwalk_simplify_first_parent(walk.get());
  git::check(git_revwalk_push_ref(walk.get(), environment_branch(env).c_str()),
             "cannot walk the history");
  std::vector<HistoryEntry> out;
  git_oid id;
  while (git_revwalk_next(&id, walk.get()) == 0) {
    git_commit* raw = nullptr;
    git::check(git_commit_lookup(&raw, g.repo.get(), &id), "cannot read a commit");
    git::Commit c(raw);
    HistoryEntry e;
    e.commit = oid_hex(id);
    e.time = static_cast<std::int64_t>(git_commit_time(c.get()));
    e.time_offset = git_commit_time_offset(c.get());
    const git_signature* author = git_commit_author(c.get());
    e.author = std::string(author->name) + " <" + author->email + ">";
    const char* summary = git_commit_summary(c.get());
    e.subject = summary ? summary : "";
    git_message_trailer_array trailers{};
    if (git_message_trailers(&trailers, git_commit_message(c.get())) == 0) {
      for (std::size_t i = 0; i < trailers.count; ++i) {
        e.trailers.emplace_back(trailers.trailers[i].key, trailers.trailers[i].value);
      }
      git_message_trailer_array_free(&trailers);
    }
    out.push_back(std::move(e));
  }
  return out;
}

} // namespace promptops::registry
