#pragma once

#include "registry/registry.hpp"

#include <string>
#include <vector>

// Sharing environments with a git remote: push and pull exchange exactly the environment
// branches (refs/heads/promptops/env/<env>), fast-forward only. Neither ever merges, rewrites
// or overwrites an environment's history, and neither touches the work tree, the index or HEAD.
namespace promptops::registry {

// Remote-only and local-only commits of one environment, as counted against the other side.
struct Divergence {
  int local_only = 0;        // commits here that the remote lacks
  int remote_only = 0;       // commits on the remote that are not here
  std::string local_newest;  // `3f2a1b0 "promote greet from staging to prod" by Ada`, or ""
  std::string remote_newest; // the same for the remote's tip, or ""
  std::vector<std::string> local_subjects; // the local-only commits' subjects, newest first
};

enum class PushStatus {
  pushed,       // the remote's branch moved from `old_commit` (or was created) to `new_commit`
  up_to_date,   // the remote already has exactly this tip
  rejected,     // the remote has promotions this repository lacks (`message` says which)
  not_promoted, // nothing was promoted here yet: nothing to push
};

struct EnvironmentPush {
  std::string env;
  std::string branch; // "promptops/env/<env>"
  PushStatus status = PushStatus::not_promoted;
  std::string old_commit; // the remote's tip before; "" when the remote had no such branch
  std::string new_commit; // the local tip; "" when there is none
  Divergence divergence;  // filled when rejected
  std::string message;    // why it was rejected; "" otherwise
};

struct PushResult {
  std::string remote;
  std::string url;
  std::vector<EnvironmentPush> environments; // in promotion order
  bool rejected() const;
};

// Push every environment branch that exists locally to the same name on `remote`,
// fast-forward only. An environment whose remote branch has commits this repository lacks is
// rejected (status, not exception) and the others still push. Throws InputError for an
// unknown remote (with "did you mean") and RunError when the remote cannot be reached.
PushResult push(const Registry& registry, const std::string& remote);

enum class PullStatus {
  created,        // the local branch did not exist: it now points at the remote's tip
  fast_forwarded, // the local branch moved from `old_commit` to `new_commit`
  up_to_date,     // both sides have the same tip
  ahead,          // the local branch has promotions the remote lacks (push them)
  diverged,       // both sides promoted: refused, the local branch is as it was
  conflict,       // refused: the branch moved meanwhile, or it is checked out
  not_on_remote,  // the remote has no such branch
  invalid,        // refused: the remote's branch is no environment (not a commit, an object
                  // over git::k_max_object_bytes); `message` says which
};

struct EnvironmentPull {
  std::string env;
  std::string branch; // "promptops/env/<env>"
  PullStatus status = PullStatus::not_on_remote;
  std::string old_commit;    // the local tip before; "" when there was none
  std::string new_commit;    // the local tip after (unchanged when refused)
  std::string remote_commit; // the remote's tip; "" when the remote has no such branch
  Divergence divergence;     // filled when ahead or diverged
  std::string message;       // why it was refused; "" otherwise
};

struct PullResult {
  std::string remote;
  std::string url;
  std::vector<EnvironmentPull> environments; // in promotion order
  bool refused() const;
};

// Fetch refs/heads/promptops/env/* from `remote` into refs/remotes/<remote>/promptops/env/*,
// then create or fast-forward (by compare-and-swap) each environment's local branch. A
// diverged environment is refused (status, not exception) and left as it was, and so is one
// whose new history holds something that is not a commit or an object too large to read
// (checked before it is fetched from a remote on this machine, else before it is taken). Throws
// InputError for an unknown remote (with "did you mean") and RunError when the remote cannot
// be reached.
PullResult pull(const Registry& registry, const std::string& remote);

// The status as a word for JSON: "pushed", "up_to_date", "fast_forwarded", ...
std::string to_string(PushStatus status);
std::string to_string(PullStatus status);

} // namespace promptops::registry
