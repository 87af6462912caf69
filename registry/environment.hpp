#pragma once

#include "registry/registry.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Environments are git branches (refs/heads/promptops/env/<env>) whose tree holds exactly the
// pinned prompt files and the partials and schemas they use. Every move is one commit written
// straight to the object database (never through the work tree or index) and published by
// compare-and-swap on the branch, so two racing promotions cannot both win.
namespace promptops::registry {

// What a gate said about the exact version being promoted. The registry keeps it as data (in
// commit trailers); it does not run anything.
struct Evidence {
  std::string run_id;
  std::optional<double> pass_rate;
  std::optional<long long> regressions;
  std::optional<std::string> drift;
  bool empty() const { return run_id.empty() && !pass_rate && !regressions && !drift; }
};

enum class Force { no, yes };

struct PromoteRequest {
  std::vector<std::string> prompts; // names; they move together or not at all
  std::string to;                   // environment
  std::string from;                 // "HEAD" or an environment; "" = the one before `to`
  Evidence evidence;
  Force force = Force::no;
  std::string reason; // required with Force::yes
};

struct PinChange {
  std::string name;
  std::string from_version; // "" when not pinned before
  std::string to_version;
  int number = 0; // vN in HEAD's history, 0 when it is not there
};

struct MoveResult {
  std::string commit;   // the new tip, "" when nothing changed
  std::string previous; // the old tip, "" when the branch is new
  std::vector<PinChange> changes;
};

// Pin `request.prompts` at their versions in `request.from` into `request.to`. Throws
// InputError for an unknown environment or prompt, Error(exit 1) when `to` is protected and
// there is no evidence and no --force, RunError (exit 3) when the branch moved meanwhile.
// Nothing is written when every prompt is already pinned at that version.
MoveResult promote(const Registry& registry, const PromoteRequest& request);

// True when `env` is listed under `protected:` in promptops.yaml.
bool is_protected_environment(const Registry& registry, const std::string& env);

// Where a promotion into `to` takes its versions from when --from is not given: the
// environment before it, or "HEAD" for the first.
std::string promotion_source(const Registry& registry, const std::string& to);

struct RollbackRequest {
  std::string prompt;
  std::string env;
  std::string to; // "" = the version pinned before the current one; else vN or an id prefix
  std::string reason;
};

// Pin an earlier version of one prompt, as a new commit (history is never rewritten).
MoveResult rollback(const Registry& registry, const RollbackRequest& request);

struct Pin {
  std::string name;
  std::string version;        // "" when the prompt is not pinned
  std::string source_version; // the version in the environment before (or HEAD); "" = none
};

struct EnvironmentState {
  std::string name;
  std::string source; // "HEAD" or the previous environment
  std::string tip;    // commit id, "" when nothing was promoted yet
  std::int64_t time = 0;
  std::string author;
  std::vector<Pin> pins; // every prompt pinned here or in the source, by name
  // Files of the branch under prompts/ that are no prompts (invalid_prompt_files): warnings.
  std::vector<std::string> invalid_files;
};

// Each environment of promptops.yaml in promotion order, with its pins beside its source's.
std::vector<EnvironmentState> list_environments(const Registry& registry);

struct HistoryEntry {
  std::string commit;
  std::int64_t time = 0;
  int time_offset = 0;
  std::string author;
  std::string subject;
  std::vector<std::pair<std::string, std::string>> trailers;
};

// The moves of environment `env`, newest first, along the branch's first parents. `trailers`
// holds only those promptops trusts (trusted_trailers): the last paragraph's, one printable
// line each. `author` and `subject` are as git has them: escape them for the terminal.
std::vector<HistoryEntry> environment_history(const Registry& registry, const std::string& env);

} // namespace promptops::registry
