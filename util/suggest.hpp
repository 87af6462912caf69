#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promptops::util {

// Levenshtein distance between `a` and `b`, counting an adjacent transposition as one edit.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `typed` if it is close enough to be a likely typo (ninja's
// "did you mean" rule), else std::nullopt.
std::optional<std::string> closest_match(std::string_view typed,
                                         const std::vector<std::string>& candidates);

// ", did you mean \"x\"?" when a close candidate exists, else "".
std::string did_you_mean(std::string_view typed, const std::vector<std::string>& candidates);

} // namespace promptops::util
