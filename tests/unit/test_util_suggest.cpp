#include "util/suggest.hpp"

#include <catch2/catch.hpp>

using promptops::util::closest_match;
using promptops::util::did_you_mean;
using promptops::util::edit_distance;

TEST_CASE("util::edit_distance, insertions, deletions, substitutions and transpositions",
          "[util]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("exact_mach", "exact_match") == 1);
  CHECK(edit_distance("mesages", "messages") == 1);
  CHECK(edit_distance("ab", "ba") == 1); // one transposition
}

TEST_CASE("util::closest_match, suggests only likely typos", "[util]") {
  const std::vector<std::string> names{"exact_match", "contains", "regex", "json_schema"};
  CHECK(closest_match("exact_mach", names) == "exact_match");
  CHECK(closest_match("Regex", names) == "regex");
  CHECK_FALSE(closest_match("banana", names).has_value());
  CHECK_FALSE(closest_match("regex", names).has_value()); // already right: nothing to suggest
  CHECK(did_you_mean("contians", names) == ", did you mean \"contains\"?");
  CHECK(did_you_mean("zzz", names).empty());
}
