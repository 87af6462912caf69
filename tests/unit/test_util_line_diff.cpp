#include "util/line_diff.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace promptops::util;

TEST_CASE("util::diff_lines, one changed line with its context", "[util][line_diff]") {
  const auto hunks = diff_lines("a\nb\nc\n", "a\nB\nc\n");
  REQUIRE(hunks.size() == 1);
  CHECK(hunks[0].header() == "@@ -1,3 +1,3 @@");
  CHECK(unified(hunks) == "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
  CHECK(diff_lines("same\n", "same\n").empty());
}

TEST_CASE("util::diff_lines, far apart changes make two hunks", "[util][line_diff]") {
  std::string before;
  for (int i = 1; i <= 20; ++i) {
    before += std::to_string(i) + "\n";
  }
  std::string after = before;
  after.replace(after.find("2\n"), 2, "two\n");
  after.replace(after.find("19\n"), 3, "nineteen\n");
  const auto hunks = diff_lines(before, after, 1);
  REQUIRE(hunks.size() == 2);
  CHECK(hunks[0].header() == "@@ -1,3 +1,3 @@");
  CHECK(hunks[1].header() == "@@ -18,3 +18,3 @@");
}

TEST_CASE("util::diff_lines, a missing final line break shows", "[util][line_diff]") {
  CHECK(unified(diff_lines("a\n", "a")) == "@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n");
  // Neither side ends in a line break: nothing to say about it.
  CHECK(unified(diff_lines("a", "b")) == "@@ -1 +1 @@\n-a\n+b\n");
}

TEST_CASE("util::edit_script, removals before additions in each run", "[util][line_diff]") {
  const std::vector<std::string> a{"keep", "x", "y", "end"};
  const std::vector<std::string> b{"keep", "X", "Y", "end"};
  std::string ops;
  for (const auto& edit : edit_script(a, b)) {
    ops += std::string(1, edit.op) + *edit.line + ";";
  }
  CHECK(ops == " keep;-x;-y;+X;+Y; end;");
  CHECK(edit_script({}, b).size() == 4);
  CHECK(edit_script(a, {}).front().op == '-');
}
