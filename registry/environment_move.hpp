#pragma once

#include "registry/environment.hpp"
#include "registry/registry.hpp"
#include "registry/source.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// A move of an environment, in its pure steps: which files the branch's next tree holds
// (plan_move) and what its commit says (move_message). Nothing here writes: environment.cpp
// writes the tree and the commit and moves the branch by compare-and-swap.
namespace promptops::registry {

// A move of more prompts than this is written and reported in bulk: ids without vN, and no
// line per prompt in the commit message.
constexpr std::size_t k_listed_changes = 50;

// Every file a resolved prompt consists of, as registry-relative paths.
std::vector<std::string> files_of(const ResolvedPrompt& resolved);

// "v3 0123456789ab", or the id's first 12 digits alone when `number` is 0 (not in history).
std::string version_label(int number, const std::string& id);

// A prompt being pinned, as resolved in the snapshot its files come from.
struct MovingPrompt {
  ResolvedPrompt resolved;
  const SnapshotSource* source = nullptr;
};

// A file the move writes into the environment's tree, with the same bytes as in `source`.
struct FileUpdate {
  std::string path;
  std::string file_id; // the bytes' id in `source` (a blob id)
  const SnapshotSource* source = nullptr;
};

// How the environment's tree changes: the tip's tree, `upserts` written, `removals` dropped.
struct MovePlan {
  std::vector<FileUpdate> upserts;   // every file of every moving prompt, each path once
  std::vector<std::string> removals; // files no pinned prompt uses any more, sorted
  std::vector<PinChange> changes;    // the pins whose version changes (each number still 0)
};

// The plan for pinning `prompts` into `env`, whose tip holds `tip` (nothing for a new branch).
// Throws InputError when a prompt's file is missing from its source, or when the move would
// change a partial or schema that a pinned prompt which is not moving also uses.
MovePlan plan_move(const SnapshotSource& tip, const std::string& env,
                   const std::vector<MovingPrompt>& prompts);

// What promote and rollback say in a move's commit, besides the pins.
struct Move {
  std::string subject;
  std::vector<std::string> body; // lines before the trailers
  std::vector<std::pair<std::string, std::string>> trailers;
};

// Who moved the environment, and when (seconds since the epoch).
struct Mover {
  std::string name;
  std::string email;
  std::int64_t time = 0;
};

// Throws UsageError "<what> must be one line of printable text ..." unless `value` is what a
// commit trailer's value may be: one line, with no control or bidirectional character (the
// characters util::text::printable escapes), so that it cannot add lines or trailers.
void check_trailer_value(std::string_view value, const std::string& what);

// The trailers of commit message `message` that promptops trusts: those of its last paragraph
// (the block git reads), each value one printable line and, for the keys promptops writes,
// of the form it writes (Forced: yes; Evidence-Pass-Rate a number from 0 to 1; ...). A key
// other than Prompt-Version that appears twice is dropped altogether.
std::vector<std::pair<std::string, std::string>> trusted_trailers(const char* message);

// The move's commit message: the subject, a line per changed pin (a count past
// k_listed_changes), the body, then the trailers: Promoted-By, Promoted-At (UTC), one
// Prompt-Version per pin (Prompts-Moved past k_listed_changes) and the move's own.
std::string move_message(const Move& move, const std::vector<PinChange>& changes,
                         const Mover& mover);

} // namespace promptops::registry
