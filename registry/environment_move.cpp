#include "registry/environment_move.hpp"

#include "registry/git.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>

namespace promptops::registry {

std::vector<std::string> files_of(const ResolvedPrompt& resolved) {
  std::vector<std::string> files{resolved.prompt.path};
  for (const auto& [partial, _] : resolved.partials) {
    files.push_back(partial_path(partial));
  }
  if (!resolved.prompt.output_schema.empty()) {
    files.push_back(
        std::filesystem::path(resolved.prompt.output_schema).lexically_normal().generic_string());
  }
  return files;
}

std::string version_label(int number, const std::string& id) {
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on
  // "v" + std::to_string(n) inlined here.
  std::string label;
  if (number > 0) {
    label += 'v';
    label += std::to_string(number);
    label += ' ';
  }
  label += id.substr(0, 12);
  return label;
}

namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// The tip's files with the move's upserts written over them: the tree the move makes, read
// before anything is written.
class MovedTree final : public Source {
public:
  MovedTree(const SnapshotSource& tip, const std::vector<FileUpdate>& upserts) : m_tip(tip) {
    for (const auto& u : upserts) {
      m_upserted.emplace(u.path, u.source);
    }
  }

  std::optional<std::string> read(std::string_view path) const override {
    const auto it = m_upserted.find(path);
    return it == m_upserted.end() ? m_tip.read(path) : it->second->read(path);
  }

  std::vector<std::string> list(std::string_view dir, std::string_view suffix) const override {
    std::vector<std::string> found = m_tip.list(dir, suffix);
    std::string base(dir);
    if (!base.empty() && base.back() != '/') {
      base += '/';
    }
    for (const auto& [path, _] : m_upserted) {
      if (path.size() >= base.size() + suffix.size() && path.compare(0, base.size(), base) == 0 &&
          path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        found.push_back(path);
      }
    }
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
  }

  std::string display(std::string_view path) const override { return m_tip.display(path); }

private:
  const SnapshotSource& m_tip;
  std::map<std::string, const SnapshotSource*, std::less<>> m_upserted;
};

// Every file of every moving prompt, each path once (prompts moved together may share
// partials and schemas, and libgit2 refuses duplicate updates), with its id in its source.
std::vector<FileUpdate> upserts_of(const std::vector<MovingPrompt>& prompts) {
  std::vector<FileUpdate> upserts;
  std::set<std::string> seen;
  for (const auto& [resolved, source] : prompts) {
    for (const auto& file : files_of(resolved)) {
      if (!seen.insert(file).second) {
        continue;
      }
      auto id = source->file_id(file);
      if (!id) {
        throw InputError("cannot find \"" + file + "\" in " + source->display(""));
      }
      upserts.push_back({file, std::move(*id), source});
    }
  }
  return upserts;
}

// An environment holds one copy of each partial and schema. When a move changes one that a
// prompt which is not moving also uses, that prompt's version would change in place: the
// environment would serve a version nobody promoted, on no evidence. Refuse, and name them.
void refuse_silent_changes(const SnapshotSource& tip, const std::string& env,
                           const std::vector<MovingPrompt>& prompts,
                           const std::vector<FileUpdate>& upserts) {
  std::set<std::string> moving;
  for (const auto& p : prompts) {
    moving.insert(p.resolved.prompt.name);
  }
  std::set<std::string> changed; // shared files whose bytes this move changes
  for (const auto& u : upserts) {
    if (!starts_with(u.path, "prompts/partials/") && starts_with(u.path, "prompts/")) {
      continue; // a moving prompt's own file
    }
    const auto id = tip.file_id(u.path);
    if (id && *id != u.file_id) {
      changed.insert(u.path);
    }
  }
  if (changed.empty()) {
    return;
  }
  std::vector<std::string> affected;
  std::set<std::string> through;
  for (const auto& name : prompt_names(tip)) {
    if (moving.count(name) != 0) {
      continue;
    }
    try {
      const std::string path = prompt_path(name);
      Prompt prompt = parse_prompt(name, *tip.read(path), path, tip.display(path));
      for (const auto& f : files_of(resolve_prompt(std::move(prompt), tip, env))) {
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

// What each moving prompt was pinned at in the tip, resolved; std::nullopt when it was not
// pinned or no longer resolves.
std::vector<std::optional<ResolvedPrompt>> pins_before(const SnapshotSource& tip,
                                                       const std::string& env,
                                                       const std::vector<MovingPrompt>& prompts) {
  std::vector<std::optional<ResolvedPrompt>> before;
  for (const auto& p : prompts) {
    std::optional<ResolvedPrompt> previous;
    try {
      const std::string& name = p.resolved.prompt.name;
      const std::string path = prompt_path(name);
      if (auto text = tip.read(path)) {
        Prompt prompt = parse_prompt(name, *text, path, tip.display(path));
        previous = resolve_prompt(std::move(prompt), tip, env);
      }
    } catch (const Error&) {
    }
    before.push_back(std::move(previous));
  }
  return before;
}

// Partial file `partial` and every partial it includes, transitively, as they are in the tip;
// std::nullopt when one of them cannot be read or parsed.
std::optional<std::vector<std::string>> partials_included_by(const SnapshotSource& tip,
                                                             const std::string& partial) {
  std::vector<std::string> included;
  std::set<std::string> seen{partial};
  std::vector<std::string> queue{partial};
  while (!queue.empty()) {
    const std::string current = queue.back();
    queue.pop_back();
    included.push_back(current);
    const auto text = tip.read(current);
    if (!text) {
      return std::nullopt;
    }
    try {
      for (const auto& inner : mustache::Template::parse(*text).partials()) {
        const std::string inner_path = partial_path(inner);
        if (seen.insert(inner_path).second) {
          queue.push_back(inner_path);
        }
      }
    } catch (const mustache::TemplateSyntaxError&) {
      return std::nullopt;
    }
  }
  return included;
}

// Whether the move may leave files that no pinned prompt uses. The tip was written by a move,
// so it held exactly what its prompts used. A file can only have become unused if a file
// whose bytes this move changes used it before (a moved prompt's old version, a partial's old
// includes). When every such file is still written by this move, nothing is stale and the
// other prompts need not be parsed; otherwise (or when the old files cannot be read) the
// caller resolves every pinned prompt again.
bool may_leave_stale_files(const SnapshotSource& tip, const std::vector<MovingPrompt>& prompts,
                           const std::vector<std::optional<ResolvedPrompt>>& before,
                           const std::vector<FileUpdate>& upserts) {
  std::set<std::string> upserted;
  for (const auto& u : upserts) {
    upserted.insert(u.path);
  }
  for (const auto& u : upserts) {
    const auto tip_id = tip.file_id(u.path);
    if (!tip_id || *tip_id == u.file_id) {
      continue; // new here, or unchanged: it used nothing before that it does not now
    }
    std::vector<std::string> used_before;
    const auto moving = std::find_if(prompts.begin(), prompts.end(), [&](const MovingPrompt& p) {
      return p.resolved.prompt.path == u.path;
    });
    if (moving != prompts.end()) {
      const auto& previous = before[static_cast<std::size_t>(moving - prompts.begin())];
      if (!previous) {
        return true;
      }
      used_before = files_of(*previous);
    } else if (starts_with(u.path, "prompts/partials/")) {
      auto included = partials_included_by(tip, u.path);
      if (!included) {
        return true;
      }
      used_before = std::move(*included);
    } else if (starts_with(u.path, "prompts/")) {
      return true; // a prompt file that no pin is: not something this shortcut knows
    }
    for (const auto& f : used_before) {
      if (upserted.count(f) == 0) {
        return true;
      }
    }
  }
  return false;
}

// The files of the moved tree that no prompt pinned in it uses, sorted.
std::vector<std::string> stale_files(const SnapshotSource& tip, const std::string& env,
                                     const std::vector<FileUpdate>& upserts) {
  const MovedTree after(tip, upserts);
  std::set<std::string> needed;
  for (const auto& name : prompt_names(after)) {
    const std::string path = prompt_path(name);
    Prompt prompt = parse_prompt(name, *after.read(path), path, after.display(path));
    for (const auto& f : files_of(resolve_prompt(std::move(prompt), after, env))) {
      needed.insert(f);
    }
  }
  std::set<std::string> all;
  for (auto& f : tip.files()) {
    all.insert(std::move(f));
  }
  for (const auto& u : upserts) {
    all.insert(u.path);
  }
  std::vector<std::string> stale;
  for (const auto& f : all) {
    if (needed.count(f) == 0) {
      stale.push_back(f);
    }
  }
  return stale;
}

std::vector<PinChange> pin_changes(const std::vector<MovingPrompt>& prompts,
                                   const std::vector<std::optional<ResolvedPrompt>>& before) {
  std::vector<PinChange> changes;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const ResolvedPrompt& resolved = prompts[i].resolved;
    PinChange change;
    change.name = resolved.prompt.name;
    change.to_version = resolved.version;
    if (before[i]) {
      change.from_version = before[i]->version;
    }
    if (change.from_version != change.to_version) {
      changes.push_back(change);
    }
  }
  return changes;
}

// "2024-05-01T12:00:00Z".
std::string utc_time(std::int64_t seconds) {
  char text[32];
  const auto time = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

} // namespace

MovePlan plan_move(const SnapshotSource& tip, const std::string& env,
                   const std::vector<MovingPrompt>& prompts) {
  MovePlan plan;
  plan.upserts = upserts_of(prompts);
  refuse_silent_changes(tip, env, prompts, plan.upserts);
  const auto before = pins_before(tip, env, prompts);
  // Keep exactly what the pinned prompts use: drop partials and schemas no prompt needs now.
  if (may_leave_stale_files(tip, prompts, before, plan.upserts)) {
    plan.removals = stale_files(tip, env, plan.upserts);
  }
  plan.changes = pin_changes(prompts, before);
  return plan;
}

void check_trailer_value(std::string_view value, const std::string& what) {
  if (util::text::printable(value) != value) {
    throw UsageError(what +
                     " must be one line of printable text (no line break, control or "
                     "bidirectional character), since it is recorded as a commit trailer; "
                     "got " +
                     util::text::quote(value));
  }
}

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whether `value` has the form promptops writes for `key` (any one printable line for a key it
// does not write).
bool written_form(const std::string& key, const std::string& value) {
  if (key == "Forced") {
    return value == "yes";
  }
  if (key == "Evidence-Pass-Rate") {
    char* end = nullptr;
    const double rate = std::strtod(value.c_str(), &end);
    return end == value.c_str() + value.size() && rate >= 0 && rate <= 1;
  }
  if (key == "Evidence-Regressions" || key == "Prompts-Moved") {
    return all_digits(value);
  }
  if (key == "Promoted-At") {
    return value.size() == 20 && value[4] == '-' && value[10] == 'T' && value.back() == 'Z';
  }
  return true;
}

} // namespace

std::vector<std::pair<std::string, std::string>> trusted_trailers(const char* message) {
  std::vector<std::pair<std::string, std::string>> found;
  git_message_trailer_array trailers{};
  if (message == nullptr || git_message_trailers(&trailers, message) != 0) {
    return found;
  }
  std::map<std::string, int> counts;
  for (std::size_t i = 0; i < trailers.count; ++i) {
    const std::string key = trailers.trailers[i].key;
    const std::string value = trailers.trailers[i].value;
    ++counts[key];
    if (util::text::printable(value) == value && util::text::printable(key) == key &&
        written_form(key, value)) {
      found.emplace_back(key, value);
    }
  }
  git_message_trailer_array_free(&trailers);
  // promptops writes each key once, but Prompt-Version once per prompt: a second one is forged.
  found.erase(std::remove_if(found.begin(), found.end(),
                             [&](const auto& t) {
                               return t.first != "Prompt-Version" && counts[t.first] > 1;
                             }),
              found.end());
  return found;
}

std::string move_message(const Move& move, const std::vector<PinChange>& changes,
                         const Mover& mover) {
  // One readable line per moved prompt, up to a point: every reader of an environment's tip
  // (each `render NAME@prod`) inflates the whole message, and a promotion of 5,000 prompts
  // listed twice made it 600 KB.
  const bool listed = changes.size() <= k_listed_changes;
  std::string message = move.subject + "\n\n";
  if (listed) {
    for (const auto& c : changes) {
      message += c.name + ": " + (c.from_version.empty() ? "(new)" : c.from_version.substr(0, 12)) +
                 " -> " + version_label(c.number, c.to_version) + "\n";
    }
  } else {
    message += std::to_string(changes.size()) +
               " prompts move; the tree holds their new versions (git diff this commit's "
               "parent and this commit).\n";
  }
  for (const auto& line : move.body) {
    message += line + "\n";
  }
  check_trailer_value(mover.name, "the author's name (GIT_AUTHOR_NAME or git's user.name)");
  check_trailer_value(mover.email, "the author's e-mail (GIT_AUTHOR_EMAIL or git's user.email)");
  message += "\nPromoted-By: " + mover.name + " <" + mover.email + ">\n";
  message += "Promoted-At: " + utc_time(mover.time) + "\n";
  // 5,000 Prompt-Version trailers made a tip 450 KB and a render 2.3x `git show`. A bulk move
  // records how many moved; which versions is the difference between its tree and its
  // parent's.
  if (listed) {
    for (const auto& c : changes) {
      message += "Prompt-Version: " + c.name + " " + c.to_version + "\n";
    }
  } else {
    message += "Prompts-Moved: " + std::to_string(changes.size()) + "\n";
  }
  for (const auto& [key, value] : move.trailers) {
    check_trailer_value(value, key); // every value one line: no trailer can add another
    message += key + ": " + value + "\n";
  }
  return message;
}

} // namespace promptops::registry
