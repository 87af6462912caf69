#pragma once

#include <cstddef>
#include <string>
#include <vector>

// A line diff of any two texts, with unified-diff hunks (dtl finds the edit script). It knows
// nothing of what the texts are: prompt diffs and the reports' output diffs both use it.
namespace promptops::util {

// One line of a unified diff. `text` has no line break. `no_newline` marks the last line of a
// text that does not end in a line break, when the other side does end in one (a difference
// shown as "\ No newline at end of file", as git does).
struct DiffLine {
  char op = ' '; // ' ' context, '-' removed, '+' added
  std::string text;
  bool no_newline = false;
};

// One "@@ -before_start,before_count +after_start,after_count @@" hunk. Starts are 1-based;
// an empty range starts at the line before it (0 for an empty text), as in GNU diff.
struct Hunk {
  std::size_t before_start = 0;
  std::size_t before_count = 0;
  std::size_t after_start = 0;
  std::size_t after_count = 0;
  std::vector<DiffLine> lines;

  // "@@ -1,3 +1,4 @@" (a count of 1 is left out, as in GNU diff).
  std::string header() const;
};

// One line of an edit script: ' ' kept, '-' removed, '+' added; `line` points into the lines
// the script was made from.
struct LineEdit {
  char op;
  const std::string* line;
};

// The edit script of lines `a` into lines `b` (dtl), each run of changes written as its
// removals, then its additions, the way diff and git show them.
std::vector<LineEdit> edit_script(const std::vector<std::string>& a,
                                  const std::vector<std::string>& b);

// The unified diff of `before` and `after` (any bytes; lines end at '\n') with `context`
// lines of context around each change; hunks closer than 2 * `context` lines merge. Empty
// when the texts are equal.
std::vector<Hunk> diff_lines(const std::string& before, const std::string& after,
                             std::size_t context = 3);

// The hunks as unified diff text, without the ---/+++ lines.
std::string unified(const std::vector<Hunk>& hunks);

} // namespace promptops::util
