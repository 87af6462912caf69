#include "evaluators/text.hpp"

#include "util/json_lines.hpp"
#include "util/text.hpp"

#include <re2/re2.h>

#include <algorithm>

namespace promptops::evaluators::text {

namespace {

using json = nlohmann::json;
using util::text::quote;
using util::text::trim;

std::optional<std::pair<std::size_t, std::size_t>>
find_exact(std::string_view haystack, std::string_view needle, Anchor anchor) {
  switch (anchor) {
  case Anchor::none: {
    const auto pos = haystack.find(needle);
    if (pos == std::string_view::npos) {
      return std::nullopt;
    }
    return std::pair{pos, needle.size()};
  }
  case Anchor::start:
    if (haystack.starts_with(needle)) {
      return std::pair{std::size_t{0}, needle.size()};
    }
    return std::nullopt;
  case Anchor::both:
    if (haystack == needle) {
      return std::pair{std::size_t{0}, needle.size()};
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<json> parse_quietly(std::string_view s) {
  json value;
  if (!util::parse_json(s, value)) {
    return std::nullopt;
  }
  return value;
}

struct Found {
  json value;
  std::size_t begin = 0; // the bytes of the output that held the JSON (the fence included)
  std::size_t end = 0;
  std::string fence_info;
};

// The first ``` code fence whose content parses as JSON.
std::optional<Found> find_fenced(std::string_view s) {
  std::size_t pos = 0;
  for (int fences = 0; fences < 16; ++fences) {
    const std::size_t open = s.find("```", pos);
    if (open == std::string_view::npos) {
      return std::nullopt;
    }
    const std::size_t newline = s.find('\n', open + 3);
    if (newline == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view info = trim(s.substr(open + 3, newline - open - 3));
    const std::size_t content = newline + 1;
    std::size_t close = s.find("```", content);
    const std::size_t end = close == std::string_view::npos ? s.size() : close + 3;
    if (close == std::string_view::npos) {
      close = s.size(); // an answer cut off before its closing fence
    }
    if (auto value = parse_quietly(s.substr(content, close - content))) {
      return Found{std::move(*value), open, end, std::string(info)};
    }
    pos = end;
  }
  return std::nullopt;
}

// The first object or array among prose that parses. Tries a bounded number of starts so that
// a megabyte of text full of braces stays linear.
std::optional<Found> find_embedded(std::string_view s) {
  std::size_t pos = 0;
  for (int tries = 0; tries < 32; ++tries) {
    const std::size_t begin = s.find_first_of("{[", pos);
    if (begin == std::string_view::npos) {
      return std::nullopt;
    }
    if (const auto end = util::text::balanced_end(s, begin)) {
      if (auto value = parse_quietly(s.substr(begin, *end - begin))) {
        return Found{std::move(*value), begin, *end, ""};
      }
    }
    pos = begin + 1;
  }
  return std::nullopt;
}

std::string fence_name(const std::string& info) {
  // Only the language word of the info string ("json" of "json title=x").
  const std::string word = info.substr(0, info.find_first_of(util::text::k_whitespace));
  return "```" + util::text::printable(word.substr(0, 20));
}

} // namespace

std::optional<std::pair<std::size_t, std::size_t>>
find(std::string_view haystack, std::string_view needle, Case cases, Anchor anchor) {
  if (cases == Case::sensitive) {
    return find_exact(haystack, needle, anchor);
  }
  // RE2 refuses a literal this long within its default memory budget (from about 700 KB on,
  // whatever the characters), but only after parsing all of it: a second for a 5 MB needle.
  constexpr std::size_t k_too_long_for_re2 = std::size_t{1} << 20;
  if (needle.size() > k_too_long_for_re2) {
    return find_exact(util::text::ascii_lower(haystack), util::text::ascii_lower(needle), anchor);
  }
  RE2::Options options;
  options.set_literal(true);
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  const RE2 re(needle, options);
  if (!re.ok()) {
    // Too long for RE2's memory budget (or not UTF-8): ASCII folding keeps byte positions.
    return find_exact(util::text::ascii_lower(haystack), util::text::ascii_lower(needle), anchor);
  }
  const RE2::Anchor re_anchor = anchor == Anchor::none    ? RE2::UNANCHORED
                                : anchor == Anchor::start ? RE2::ANCHOR_START
                                                          : RE2::ANCHOR_BOTH;
  re2::StringPiece match;
  if (!re.Match(haystack, 0, haystack.size(), re_anchor, &match, 1)) {
    return std::nullopt;
  }
  return std::pair{static_cast<std::size_t>(match.data() - haystack.data()), match.size()};
}

ParsedOutput parse_output(std::string_view output, Extract extract) {
  ParsedOutput result;
  if (util::text::nests_deeper(output, util::text::k_max_json_depth)) {
    result.problem = "the output nests brackets more than " +
                     std::to_string(util::text::k_max_json_depth) + " levels deep";
    return result;
  }
  std::string not_json;
  try {
    if (json value; util::parse_json(output, value)) {
      result.value = std::move(value);
      return result;
    }
    result.value = json::parse(output); // throws, saying where
    return result;
  } catch (const json::parse_error& e) {
    if (trim(output).empty()) {
      not_json = output.empty() ? "the output is empty" : "the output is blank";
    } else {
      const std::size_t pos = e.byte == 0 ? 0 : std::min(e.byte - 1, output.size());
      const auto [line, column] = util::text::line_and_column(output, pos);
      not_json = "the output is not JSON (line " + std::to_string(line) + ", column " +
                 std::to_string(column) + ": " + util::text::quote_around(output, pos, 1, 40) + ")";
    }
  } catch (const json::out_of_range&) { // a number beyond a double: 1e400
    not_json = "the output is not JSON (a number too large)";
  }

  std::optional<Found> found = find_fenced(output);
  if (found) {
    result.wrapping = Wrapping::fence;
    result.fence_info = found->fence_info;
    result.problem =
        "the output wraps its JSON in a " + fence_name(found->fence_info) + " code fence";
  } else if ((found = find_embedded(output))) {
    result.wrapping = Wrapping::prose;
    const std::string_view before = trim(output.substr(0, found->begin));
    const std::string_view after = trim(output.substr(found->end));
    std::string where;
    if (!before.empty()) {
      where = quote(before, 40) + " before it";
    }
    if (!after.empty()) {
      where += (where.empty() ? "" : ", ") + quote(after, 40) + " after it";
    }
    result.problem = "the output has text around its JSON (" + where + ")";
  } else {
    result.problem = std::move(not_json);
    return result;
  }
  if (extract == Extract::yes) {
    result.value = std::move(found->value);
    result.problem.clear();
  }
  return result;
}

LastObject last_object(std::string_view text, bool (*wanted)(const json& object)) {
  LastObject result;
  // Bytes that may be read for starts that are not objects (each costs a scan to its end, or to
  // the end of the text when it never closes): room for 32 stray braces in any text.
  std::size_t budget = 32 * text.size() + (std::size_t{1} << 20);
  std::size_t pos = 0;
  while (true) {
    const std::size_t begin = text.find('{', pos);
    if (begin == std::string_view::npos) {
      break;
    }
    const auto end = util::text::balanced_end(text, begin);
    std::size_t cost = text.size() - begin;
    if (end) {
      std::optional<json> value = parse_quietly(text.substr(begin, *end - begin));
      if (value && value->is_object()) {
        if (wanted(*value)) {
          result.wanted = *value;
        }
        result.last = std::move(value);
        pos = *end; // the objects inside it are its own
        continue;
      }
      cost = 2 * (*end - begin); // scanned, then parsed
    }
    if (cost > budget) {
      result.gave_up = true;
      break;
    }
    budget -= cost;
    pos = begin + 1;
  }
  return result;
}

} // namespace promptops::evaluators::text
