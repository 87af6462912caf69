#include "util/line_diff.hpp"

#include <dtl/dtl.hpp>

#include <algorithm>
#include <utility>

namespace promptops::util {

namespace {

// Lines with their '\n', so that a last line without one differs from the same line with one.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl + 1 - start));
    start = nl + 1;
  }
  return lines;
}

std::string range(std::size_t start, std::size_t count) {
  return count == 1 ? std::to_string(start) : std::to_string(start) + "," + std::to_string(count);
}

} // namespace

std::string Hunk::header() const {
  return "@@ -" + range(before_start, before_count) + " +" + range(after_start, after_count) +
         " @@";
}

// dtl may interleave removals and additions: they are written out per run of changes.
std::vector<LineEdit> edit_script(const std::vector<std::string>& a,
                                  const std::vector<std::string>& b) {
  std::vector<LineEdit> ops;
  if (a.empty() || b.empty()) {
    for (const auto& line : a) {
      ops.push_back({'-', &line});
    }
    for (const auto& line : b) {
      ops.push_back({'+', &line});
    }
    return ops;
  }
  dtl::Diff<std::string, std::vector<std::string>> diff(a, b);
  diff.compose();
  std::size_t i = 0;
  std::size_t j = 0;
  std::vector<LineEdit> removed;
  std::vector<LineEdit> added;
  auto flush = [&] {
    ops.insert(ops.end(), removed.begin(), removed.end());
    ops.insert(ops.end(), added.begin(), added.end());
    removed.clear();
    added.clear();
  };
  // Only the kinds of the edit script are used; the lines are taken from `a` and `b` by
  // position, which keeps the pointers valid and checks that the script walks both texts.
  for (const auto& [elem, info] : diff.getSes().getSequence()) {
    if (info.type == dtl::SES_COMMON && i < a.size() && j < b.size()) {
      flush();
      ops.push_back({' ', &a[i++]});
      ++j;
    } else if (info.type == dtl::SES_DELETE && i < a.size()) {
      removed.push_back({'-', &a[i++]});
    } else if (info.type == dtl::SES_ADD && j < b.size()) {
      added.push_back({'+', &b[j++]});
    }
  }
  // Should dtl ever stop short, the rest is still shown as changed rather than lost.
  for (; i < a.size(); ++i) {
    removed.push_back({'-', &a[i]});
  }
  for (; j < b.size(); ++j) {
    added.push_back({'+', &b[j]});
  }
  flush();
  return ops;
}

std::vector<Hunk> diff_lines(const std::string& before, const std::string& after,
                             std::size_t context) {
  if (before == after) {
    return {};
  }
  // A missing final line break is only worth showing when the other side has one; prompt
  // texts written as YAML strings usually have none on either side.
  auto lacks_newline = [](const std::string& s) { return !s.empty() && s.back() != '\n'; };
  auto ends_newline = [](const std::string& s) { return !s.empty() && s.back() == '\n'; };
  std::string a = before;
  std::string b = after;
  if (lacks_newline(before) && !ends_newline(after)) {
    a += '\n';
  }
  if (lacks_newline(after) && !ends_newline(before)) {
    b += '\n';
  }
  const auto lines_a = split_lines(a);
  const auto lines_b = split_lines(b);
  const auto ops = edit_script(lines_a, lines_b);

  // Line numbers before each op, on each side.
  std::vector<std::size_t> pos_a(ops.size() + 1, 0);
  std::vector<std::size_t> pos_b(ops.size() + 1, 0);
  for (std::size_t k = 0; k < ops.size(); ++k) {
    pos_a[k + 1] = pos_a[k] + (ops[k].op != '+' ? 1 : 0);
    pos_b[k + 1] = pos_b[k] + (ops[k].op != '-' ? 1 : 0);
  }

  std::vector<Hunk> hunks;
  const std::size_t n = ops.size();
  std::size_t k = 0;
  while (k < n) {
    if (ops[k].op == ' ') {
      ++k;
      continue;
    }
    const std::size_t start = k >= context ? k - context : 0;
    std::size_t end = k;
    for (;;) {
      while (end < n && ops[end].op != ' ') {
        ++end;
      }
      std::size_t next = end;
      while (next < n && ops[next].op == ' ') {
        ++next;
      }
      if (next < n && next - end <= 2 * context) {
        end = next;
        continue;
      }
      end = std::min(n, end + context);
      break;
    }
    Hunk h;
    for (std::size_t x = start; x < end; ++x) {
      const std::string& line = *ops[x].line;
      const bool has_newline = !line.empty() && line.back() == '\n';
      h.lines.push_back(
          {ops[x].op, has_newline ? line.substr(0, line.size() - 1) : line, !has_newline});
    }
    h.before_count = pos_a[end] - pos_a[start];
    h.after_count = pos_b[end] - pos_b[start];
    h.before_start = pos_a[start] + (h.before_count > 0 ? 1 : 0);
    h.after_start = pos_b[start] + (h.after_count > 0 ? 1 : 0);
    hunks.push_back(std::move(h));
    k = end;
  }
  return hunks;
}

std::string unified(const std::vector<Hunk>& hunks) {
  std::string out;
  for (const auto& hunk : hunks) {
    out += hunk.header();
    out += '\n';
    for (const auto& line : hunk.lines) {
      out += line.op;
      out += line.text;
      out += '\n';
      if (line.no_newline) {
        out += "\\ No newline at end of file\n";
      }
    }
  }
  return out;
}

} // namespace promptops::util
