#pragma once

#include "registry/registry.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace promptops::registry {

// One change of a prompt in the history of HEAD: a commit that made it a new version.
struct VersionEntry {
  int number = 0;        // v1, v2, ... by first appearance of the content
  std::string id;        // full version id
  std::string commit;    // the commit that introduced this content (hex)
  std::string name;      // the prompt's name in that commit (it may have been renamed since)
  std::int64_t time = 0; // commit time, seconds since the epoch
  int time_offset = 0;   // minutes east of UTC
  std::string author;    // "Name <email>"
  std::string subject;   // first line of the commit message
  bool reverted = false; // the content equals an earlier version (number is that one's)
};

// The versions of prompt `name` along the first-parent history of HEAD, oldest first,
// following exact renames (a file removed and the same bytes added under another name in one
// commit). Commits where the prompt does not parse are passed over. Throws InputError when
// the prompt never existed at HEAD.
std::vector<VersionEntry> prompt_history(const Registry& registry, const std::string& name);

// The entry `ref` names: "v3", or a prefix (at least 4 hex digits) of a version id. Returns
// std::nullopt when `ref` has neither form. Throws InputError when it has one but names no
// version, or a prefix names several.
std::optional<VersionEntry> find_version(const std::vector<VersionEntry>& history,
                                         const std::string& name, const std::string& ref);

// True when `ref` looks like "vN" or a hex prefix of a version id.
bool is_version_ref(const std::string& ref);

} // namespace promptops::registry
