#include "golden/fingerprint.hpp"

#include "util/simdjson_parse.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <set>
#include <variant>
#include <vector>

namespace promptops::golden {

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;
namespace text = util::text;

constexpr std::size_t k_npos = std::string_view::npos;
// Deeper JSON is not parsed (as in util/text.cpp): walking it would recurse too far.
// Bounds on the shape signature, so that one huge or deep JSON value costs little and stores
// little: the deeper levels, further paths and later array elements are left out.
constexpr std::size_t k_shape_depth = 16;
constexpr std::size_t k_max_paths = 64;
constexpr std::size_t k_max_shape_chars = 1000;
constexpr std::size_t k_max_array_elements = 256;
constexpr std::size_t k_max_key_chars = 64;
// JSON among prose: how many opening brackets are tried (each try may scan to the end).
constexpr int k_embedded_tries = 16;
constexpr std::size_t k_excerpt_chars = 24;
// Refusals and stock openers are looked for near the start only.
constexpr std::size_t k_refusal_window = 300;
constexpr std::string_view k_ellipsis = "\xE2\x80\xA6"; // …

bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return is_lower(c) || is_upper(c);
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

char ascii_lower(char c) {
  return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}

std::size_t count_code_points(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return !is_continuation(c); }));
}

// The first line of `s`, trimmed, cut after about k_excerpt_chars code points (at a space
// where there is one), printable.
std::string excerpt(std::string_view s) {
  s = text::trim(s);
  s = text::trim(s.substr(0, s.find('\n')));
  std::size_t i = 0;
  for (std::size_t chars = 0; i < s.size() && chars < k_excerpt_chars; ++chars) {
    ++i;
    while (i < s.size() && is_continuation(s[i])) {
      ++i;
    }
  }
  if (i >= s.size()) {
    return text::printable(s);
  }
  std::string_view cut = s.substr(0, i);
  if (const std::size_t space = cut.rfind(' '); space != k_npos && space >= 8) {
    cut = text::trim(cut.substr(0, space));
  }
  std::string out = text::printable(cut);
  out += k_ellipsis;
  return out;
}

// A parsed JSON value: simdjson's (fast; valid until the next parse on this thread), or
// nlohmann's for the few texts simdjson refuses and nlohmann takes (numbers out of range).
using JsonValue = std::variant<simdjson::dom::element, json>;

enum class Kind { object, array, string, number, boolean, null };

Kind kind_of(const simdjson::dom::element& value) {
  switch (value.type()) {
  case simdjson::dom::element_type::OBJECT:
    return Kind::object;
  case simdjson::dom::element_type::ARRAY:
    return Kind::array;
  case simdjson::dom::element_type::STRING:
    return Kind::string;
  case simdjson::dom::element_type::BOOL:
    return Kind::boolean;
  case simdjson::dom::element_type::NULL_VALUE:
    return Kind::null;
  default:
    return Kind::number;
  }
}

Kind kind_of(const json& value) {
  switch (value.type()) {
  case json::value_t::object:
    return Kind::object;
  case json::value_t::array:
    return Kind::array;
  case json::value_t::string:
    return Kind::string;
  case json::value_t::boolean:
    return Kind::boolean;
  case json::value_t::null:
    return Kind::null;
  default:
    return Kind::number;
  }
}

// The element's kind is checked first: get() cannot fail here.
std::string_view string_of(const simdjson::dom::element& value) {
  std::string_view out;
  return value.get_string().get(out) ? std::string_view() : out;
}
std::string_view string_of(const json& value) {
  return value.get_ref<const std::string&>();
}

// Members in order of their keys, the last of a repeated key only: as nlohmann's object holds
// them, so that both parsers give the same fingerprint (the shape keeps the first paths only).
template <typename OnMember> void for_each_member(const simdjson::dom::element& value, OnMember f) {
  std::vector<std::pair<std::string_view, simdjson::dom::element>> members;
  simdjson::dom::object object;
  if (value.get_object().get(object)) {
    return;
  }
  for (const simdjson::dom::key_value_pair member : object) {
    members.emplace_back(member.key, member.value);
  }
  std::stable_sort(members.begin(), members.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i + 1 < members.size() && members[i + 1].first == members[i].first) {
      continue;
    }
    f(members[i].first, members[i].second);
  }
}
template <typename OnMember> void for_each_member(const json& value, OnMember f) {
  for (const auto& [key, item] : value.items()) {
    f(std::string_view(key), item);
  }
}

template <typename OnItem> void for_each_item(const simdjson::dom::element& value, OnItem f) {
  simdjson::dom::array array;
  if (value.get_array().get(array)) {
    return;
  }
  for (const simdjson::dom::element item : array) {
    if (!f(item)) {
      return;
    }
  }
}
template <typename OnItem> void for_each_item(const json& value, OnItem f) {
  for (const json& item : value) {
    if (!f(item)) {
      return;
    }
  }
}

std::optional<JsonValue> parse_json(std::string_view s) {
  if (text::nests_deeper(s, text::k_max_json_depth)) {
    return std::nullopt;
  }
  // The element lives until this thread's next parse: fingerprint() walks it before then.
  simdjson::dom::element element;
  const simdjson::error_code error = util::parse_reused(s, element);
  if (!error) {
    return JsonValue(element);
  }
  if (!util::for_nlohmann(error)) {
    return std::nullopt;
  }
  try {
    json value = json::parse(s, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      return std::nullopt;
    }
    return JsonValue(std::move(value));
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// Whether trimmed `s` may be a JSON text at all: a cheap test before parsing.
bool may_be_json(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  const char c = s.front();
  return c == '{' || c == '[' || c == '"' || c == '-' || is_digit(c) || c == 't' || c == 'f' ||
         c == 'n';
}

// Among prose, "[1]" or "[2, 3]" is a citation and "{}" code rather than JSON: an object
// counts when it has a member, an array when it holds a string, an object or an array.
template <typename Value> bool looks_like_data(const Value& value) {
  if (kind_of(value) == Kind::object) {
    bool any = false;
    for_each_member(value, [&any](std::string_view, const Value&) { any = true; });
    return any;
  }
  bool data = false;
  if (kind_of(value) == Kind::array) {
    for_each_item(value, [&data](const Value& item) {
      const Kind kind = kind_of(item);
      data = kind == Kind::string || kind == Kind::object || kind == Kind::array;
      return !data;
    });
  }
  return data;
}

bool looks_like_data(const JsonValue& value) {
  return std::visit([](const auto& v) { return looks_like_data(v); }, value);
}

struct Fence {
  std::size_t begin = 0;         // the opening fence line
  std::size_t content_begin = 0; // after the opening line
  std::size_t content_end = 0;   // the closing fence line (or the end of an unclosed fence)
  std::size_t end = 0;           // after the closing fence's characters
  std::string lang;
  bool closed = false;
};

// The fence's language: the first word of its info string, lower case, limited to the
// characters of language names ("json", "c++", "objective-c").
std::string fence_lang(std::string_view info) {
  std::string lang;
  for (const char c : info) {
    if (is_space(c) || lang.size() >= 20) {
      break;
    }
    const char l = ascii_lower(c);
    if (is_alnum(l) || l == '+' || l == '#' || l == '.' || l == '_' || l == '-') {
      lang += l;
    }
  }
  return lang;
}

// Calls on_line(begin, end, next) for each line of `s` (end excludes "\n" and a "\r" before it).
template <typename OnLine> void for_each_line(std::string_view s, OnLine on_line) {
  std::size_t begin = 0;
  while (begin < s.size()) {
    const std::size_t newline = s.find('\n', begin);
    const std::size_t next = newline == k_npos ? s.size() : newline + 1;
    std::size_t end = newline == k_npos ? s.size() : newline;
    if (end > begin && s[end - 1] == '\r') {
      --end;
    }
    on_line(begin, end, next);
    begin = next;
  }
}

// The ``` and ~~~ code fences of `s`, in order. An unclosed fence runs to the end.
std::vector<Fence> find_fences(std::string_view s) {
  std::vector<Fence> fences;
  bool open = false;
  char marker = 0;
  std::size_t marker_length = 0;
  Fence current;
  for_each_line(s, [&](std::size_t begin, std::size_t end, std::size_t next) {
    const std::string_view line = s.substr(begin, end - begin);
    const std::size_t indent = line.find_first_not_of(" \t");
    if (indent == k_npos || (line[indent] != '`' && line[indent] != '~')) {
      return;
    }
    const std::string_view rest = line.substr(indent);
    std::size_t run = rest.find_first_not_of(rest.front());
    run = run == k_npos ? rest.size() : run;
    if (run < 3) {
      return;
    }
    const std::string_view info = text::trim(rest.substr(run));
    if (!open) {
      if (rest.front() == '`' && info.find('`') != k_npos) {
        return; // ```inline code``` on one line, not a fence
      }
      current = Fence{begin, next, 0, 0, fence_lang(info), false};
      marker = rest.front();
      marker_length = run;
      open = true;
    } else if (rest.front() == marker && run >= marker_length && info.empty()) {
      current.content_end = begin;
      current.end = end;
      current.closed = true;
      fences.push_back(std::move(current));
      open = false;
    }
  });
  if (open) {
    current.content_end = s.size();
    current.end = s.size();
    fences.push_back(std::move(current));
  }
  return fences;
}

std::string_view json_type(Kind kind) {
  switch (kind) {
  case Kind::object:
    return "object";
  case Kind::array:
    return "array";
  case Kind::string:
    return "string";
  case Kind::boolean:
    return "boolean";
  case Kind::null:
    return "null";
  default:
    return "number";
  }
}

struct QuoteCount {
  std::size_t straight = 0;
  std::size_t curly = 0;

  void scan(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '"' || c == '\'') {
        ++straight;
      } else if (c == '\xE2' && i + 2 < s.size() && s[i + 1] == '\x80' &&
                 (s[i + 2] == '\x98' || s[i + 2] == '\x99' || s[i + 2] == '\x9C' ||
                  s[i + 2] == '\x9D')) {
        ++curly; // ‘ ’ “ ”
        i += 2;
      }
    }
  }

  // "straight", "curly", "mixed", or "" when there are none (whether a text has quotes or
  // apostrophes at all is a matter of content).
  std::string value() const {
    if (straight > 0 && curly > 0) {
      return "mixed";
    }
    return straight > 0 ? "straight" : curly > 0 ? "curly" : "";
  }
};

enum class KeyStyle { none, word, snake, camel, pascal, kebab, upper, other };

KeyStyle key_style(std::string_view key) {
  // "_id", "$schema", "@type": the sigil says nothing about the casing convention.
  const std::size_t start = key.find_first_not_of("_$@");
  if (start == k_npos) {
    return KeyStyle::none;
  }
  key = key.substr(start);
  bool lower = false;
  bool upper = false;
  bool underscore = false;
  bool dash = false;
  bool other = false;
  for (const char c : key) {
    lower |= is_lower(c);
    upper |= is_upper(c);
    underscore |= c == '_';
    dash |= c == '-';
    other |= !is_alnum(c) && c != '_' && c != '-';
  }
  if (!lower && !upper) {
    return KeyStyle::none;
  }
  if (other || (underscore && dash)) {
    return KeyStyle::other;
  }
  if (underscore || dash) {
    if (!upper) {
      return underscore ? KeyStyle::snake : KeyStyle::kebab;
    }
    return lower ? KeyStyle::other : KeyStyle::upper;
  }
  if (!upper) {
    return KeyStyle::word;
  }
  if (!lower) {
    return KeyStyle::upper;
  }
  return is_lower(key.front()) ? KeyStyle::camel : KeyStyle::pascal;
}

std::string_view key_style_name(KeyStyle style) {
  switch (style) {
  case KeyStyle::snake:
    return "snake_case";
  case KeyStyle::camel:
    return "camelCase";
  case KeyStyle::pascal:
    return "PascalCase";
  case KeyStyle::kebab:
    return "kebab-case";
  case KeyStyle::upper:
    return "UPPER_CASE";
  case KeyStyle::word:
    return "lowercase";
  default:
    return "other";
  }
}

// Appends a key as it appears in a shape path: printable, shortened, and with the characters
// that structure the signature percent-encoded.
void append_shape_key(std::string& out, std::string_view key) {
  const auto structural = [](char c) {
    return c == ',' || c == ':' || c == '.' || c == '[' || c == ']' || c == '%' || c == '|';
  };
  // Most keys are short printable ASCII: appended as they are.
  if (key.size() <= k_max_key_chars && std::all_of(key.begin(), key.end(), [&](char c) {
        return c >= 0x20 && c < 0x7F && !structural(c);
      })) {
    out.append(key);
    return;
  }
  for (const char c : text::shorten(key, k_max_key_chars)) {
    if (structural(c)) {
      static constexpr char k_hex[] = "0123456789ABCDEF";
      out += '%';
      out += k_hex[(static_cast<unsigned char>(c) >> 4U) & 0xFU];
      out += k_hex[static_cast<unsigned char>(c) & 0xFU];
    } else {
      out += c;
    }
  }
}

// One walk over a JSON value: its shape as sorted paths ("meta.source:string",
// "tags:array<string>", "items[].id:number"), the casing of its keys, and its quote characters.
class JsonWalk {
public:
  explicit JsonWalk(QuoteCount& quotes) : m_quotes(quotes) {}

  void walk(const JsonValue& value) {
    m_path.clear();
    std::visit([this](const auto& v) { walk(v, 0); }, value);
  }

  // Walks `value` found at m_path, which it leaves as it found it.
  template <typename Value> void walk(const Value& value, std::size_t depth) {
    if (depth > k_shape_depth) {
      m_truncated = true;
      return;
    }
    const std::size_t path_size = m_path.size();
    switch (kind_of(value)) {
    case Kind::object: {
      bool empty = true;
      for_each_member(value, [&](std::string_view key, const Value& item) {
        empty = false;
        note_key(key);
        if (path_size > 0) {
          m_path += '.';
        }
        append_shape_key(m_path, key);
        walk(item, depth + 1);
        m_path.resize(path_size);
      });
      if (empty) {
        add("{}");
      }
      return;
    }
    case Kind::array: {
      std::set<std::string_view> kinds;
      std::size_t seen = 0;
      for_each_item(value, [&](const Value& item) {
        if (++seen > k_max_array_elements) {
          return false;
        }
        const Kind kind = kind_of(item);
        kinds.insert(json_type(kind));
        if (kind == Kind::object || kind == Kind::array) {
          m_path += "[]";
          walk(item, depth + 1);
          m_path.resize(path_size);
        } else if (kind == Kind::string) {
          m_quotes.scan(string_of(item));
        }
        return true;
      });
      std::string type = "array<";
      for (const std::string_view kind : kinds) {
        type += type.size() > 6 ? "|" : "";
        type += kind;
      }
      type += '>';
      add(type);
      return;
    }
    case Kind::string:
      m_quotes.scan(string_of(value));
      add("string");
      return;
    default:
      add(json_type(kind_of(value)));
      return;
    }
  }

  std::string shape() const {
    std::string out;
    for (const std::string& path : m_paths) {
      if (out.size() + path.size() + 1 > k_max_shape_chars) {
        out += ",";
        out += k_ellipsis;
        return out;
      }
      out += out.empty() ? "" : ",";
      out += path;
    }
    if (m_truncated) {
      out += out.empty() ? "" : ",";
      out += k_ellipsis;
    }
    return out;
  }

  // The casing convention of the keys, or "" when there are no keys with letters.
  std::string key_case() const {
    if (m_styles.empty()) {
      return "";
    }
    if (m_styles.size() == 1) {
      return std::string(key_style_name(*m_styles.begin()));
    }
    // Single lower-case words ("id", "name") show no convention: next to keys that do, they
    // are left out.
    std::set<KeyStyle> styles = m_styles;
    styles.erase(KeyStyle::word);
    return styles.size() == 1 ? std::string(key_style_name(*styles.begin())) : "mixed";
  }

private:
  // Adds "<m_path>:<type>" (or the type alone at the top) to the shape.
  void add(std::string_view type) {
    if (m_paths.size() >= k_max_paths) {
      m_truncated = true;
      return;
    }
    const std::size_t path_size = m_path.size();
    if (path_size > 0) {
      m_path += ':';
    }
    m_path += type;
    // Array elements repeat their paths: the set is searched before a copy is made.
    if (m_paths.find(m_path) == m_paths.end()) {
      m_paths.insert(m_path);
    }
    m_path.resize(path_size);
  }

  void note_key(std::string_view key) {
    if (const KeyStyle style = key_style(key); style != KeyStyle::none) {
      m_styles.insert(style);
    }
  }

  QuoteCount& m_quotes;
  std::string m_path; // of the value walked: "items[].id"
  std::set<std::string, std::less<>> m_paths;
  std::set<KeyStyle> m_styles;
  bool m_truncated = false;
};

// Where the output's payload is: its JSON, or else its first code fence.
struct Payload {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::optional<JsonValue> value;
  std::size_t fence = k_npos; // the index of its fence, if fenced
  bool bare = false;          // the whole output (trimmed) is the JSON
};

std::optional<Payload> find_payload(std::string_view s, const std::vector<Fence>& fences) {
  if (const std::string_view t = text::trim(s); may_be_json(t)) {
    if (auto value = parse_json(t)) {
      const auto begin = static_cast<std::size_t>(t.data() - s.data());
      return Payload{begin, begin + t.size(), std::move(value), k_npos, true};
    }
  }
  if (!fences.empty()) {
    for (std::size_t i = 0; i < std::min<std::size_t>(fences.size(), 16); ++i) {
      const Fence& f = fences[i];
      const std::string_view content =
          text::trim(s.substr(f.content_begin, f.content_end - f.content_begin));
      if (may_be_json(content)) {
        if (auto value = parse_json(content)) {
          return Payload{f.begin, f.end, std::move(value), i, false};
        }
      }
    }
    return Payload{fences.front().begin, fences.front().end, std::nullopt, 0, false};
  }
  std::size_t pos = 0;
  for (int tries = 0; tries < k_embedded_tries; ++tries) {
    const std::size_t begin = s.find_first_of("{[", pos);
    if (begin == k_npos) {
      break;
    }
    // JSON among prose starts a line or ends the output; elsewhere ("seen = {...}") it is
    // more likely code.
    const std::size_t newline = begin == 0 ? k_npos : s.rfind('\n', begin - 1);
    const std::size_t line_begin = newline == k_npos ? 0 : newline + 1;
    const bool starts_line =
        s.substr(line_begin, begin - line_begin).find_first_not_of(" \t") == k_npos;
    const std::size_t end = text::balanced_end(s, begin).value_or(k_npos);
    const bool ends_output = end != k_npos && text::trim(s.substr(end)).empty();
    if (end != k_npos && (starts_line || ends_output)) {
      if (auto value = parse_json(s.substr(begin, end - begin)); value && looks_like_data(*value)) {
        return Payload{begin, end, std::move(value), k_npos, false};
      }
    }
    pos = begin + 1;
  }
  return std::nullopt;
}

// An answer tag: "(A)", "[Yes]", "A:", "A)" or "A." (an option letter).
struct Tag {
  std::size_t begin = 0;
  std::size_t length = 0;
  std::string_view style;
};

std::optional<Tag> tag_at(std::string_view t, std::size_t begin) {
  const std::string_view s = t.substr(begin);
  if (s.size() >= 3 && s[0] == '(') {
    std::size_t j = 1;
    while (j < s.size() && j <= 4 && is_alnum(s[j])) {
      ++j;
    }
    if (j > 1 && j <= 4 && j < s.size() && s[j] == ')') {
      return Tag{begin, j + 1, "(X)"};
    }
    return std::nullopt;
  }
  if (s.size() >= 3 && s[0] == '[') {
    std::size_t j = 1;
    while (j < s.size() && j <= 21 && (is_alnum(s[j]) || s[j] == ' ')) {
      ++j;
    }
    const bool link = j + 1 < s.size() && s[j + 1] == '('; // [text](url)
    if (j > 1 && j < s.size() && s[j] == ']' && !link && !text::trim(s.substr(1, j - 1)).empty()) {
      return Tag{begin, j + 1, "[X]"};
    }
    return std::nullopt;
  }
  if (s.size() >= 2 && is_upper(s[0]) && (s[1] == ':' || s[1] == ')' || s[1] == '.') &&
      (s.size() == 2 || is_space(s[2]))) {
    return Tag{begin, 2, s[1] == ':' ? "X:" : s[1] == ')' ? "X)" : "X."};
  }
  return std::nullopt;
}

// The tag at the end of `t` (before one final "."), if any.
std::optional<Tag> tag_at_end(std::string_view t) {
  std::string_view e = t;
  if (!e.empty() && e.back() == '.') {
    e = text::trim(e.substr(0, e.size() - 1));
  }
  if (e.size() < 3) {
    return std::nullopt;
  }
  const char close = e.back();
  const char open = close == ']' ? '[' : close == ')' ? '(' : 0;
  if (open == 0) {
    return std::nullopt;
  }
  const std::size_t window = close == ']' ? 22 : 5;
  const std::size_t from = e.size() > window ? e.size() - window : 0;
  const std::size_t begin = e.rfind(open);
  if (begin == k_npos || begin < from) {
    return std::nullopt;
  }
  auto tag = tag_at(e, begin);
  if (tag && tag->begin + tag->length == e.size()) {
    return tag;
  }
  return std::nullopt;
}

void answer_tag(std::string_view t, Fingerprint& fp) {
  std::optional<Tag> tag = tag_at(t, 0);
  std::string position = "start";
  if (tag) {
    const std::string_view rest = text::trim(t.substr(tag->length));
    if (rest.empty() || rest == ".") {
      position = "only";
    }
  } else if ((tag = tag_at_end(t))) {
    position = "end";
  }
  if (!tag) {
    fp.categorical["answer_tag"] = "none";
    return;
  }
  fp.categorical["answer_tag"] = position;
  fp.categorical["answer_tag_style"] = std::string(tag->style);
  fp.excerpts["answer_tag"] = text::printable(t.substr(tag->begin, tag->length));
}

// "none", "in-text", or "only" when the output is a \boxed{...} and nothing else (math
// delimiters around it allowed).
std::string boxed(std::string_view t) {
  constexpr std::string_view k_boxed = "\\boxed{";
  if (t.find(k_boxed) == k_npos) {
    return "none";
  }
  std::string_view inner = t;
  for (const auto& [open, close] : std::array<std::pair<std::string_view, std::string_view>, 4>{
           {{"$$", "$$"}, {"$", "$"}, {"\\[", "\\]"}, {"\\(", "\\)"}}}) {
    if (inner.size() >= open.size() + close.size() && inner.starts_with(open) &&
        inner.ends_with(close)) {
      inner = text::trim(inner.substr(open.size(), inner.size() - open.size() - close.size()));
      break;
    }
  }
  if (!inner.starts_with(k_boxed)) {
    return "in-text";
  }
  std::size_t depth = 0;
  for (std::size_t i = k_boxed.size() - 1; i < inner.size(); ++i) {
    if (inner[i] == '{') {
      ++depth;
    } else if (inner[i] == '}' && --depth == 0) {
      return text::trim(inner.substr(i + 1)).empty() ? "only" : "in-text";
    }
  }
  return "in-text";
}

// `t`'s first bytes in ASCII lower case, with ’ read as '.
std::string folded_start(std::string_view t, std::size_t limit) {
  std::string out;
  out.reserve(std::min(t.size(), limit));
  for (std::size_t i = 0; i < t.size() && i < limit; ++i) {
    if (t.substr(i).starts_with("\xE2\x80\x99")) {
      out += '\'';
      i += 2;
    } else {
      out += ascii_lower(t[i]);
    }
  }
  return out;
}

constexpr std::array<std::string_view, 14> k_refusals = {
    "i can't",    "i cannot",    "i can not",    "i'm sorry",     "i am sorry",
    "i'm unable", "i am unable", "i'm not able", "i am not able", "i apologize",
    "i won't",    "i will not",  "as an ai",     "i must decline"};

// Hedging that takes the place of an answer ("That depends on personal views..."), as models
// tuned to avoid opinions answer multiple-choice questions.
constexpr std::string_view k_hedges[] = {"it depends",
                                         "that depends",
                                         "this depends",
                                         "depends on your",
                                         "depends on personal",
                                         "there is no single",
                                         "there's no single",
                                         "there is no one",
                                         "there's no one",
                                         "there is no right",
                                         "there's no right",
                                         "there is no definitive",
                                         "there's no definitive",
                                         "i don't have personal",
                                         "i do not have personal",
                                         "i don't have opinions",
                                         "i do not have opinions",
                                         "i don't have a personal",
                                         "i do not have a personal",
                                         "i don't have preferences",
                                         "i do not have preferences",
                                         "is subjective",
                                         "it's hard to say",
                                         "it is hard to say",
                                         "difficult to say",
                                         "cannot be determined",
                                         "can't be determined",
                                         "varies from person to person",
                                         "personal views",
                                         "personal opinion",
                                         "really depends",
                                         "depends on one's",
                                         "depends on the individual"};

// Whether a hedge of k_hedges starts a word of `folded` (lower case). One pass that tries only
// the hedges with the word's first letter: searching for each in turn cost more than the rest
// of the fingerprint's prose checks together.
bool hedges(std::string_view folded) {
  static const auto by_letter = [] {
    std::array<std::vector<std::string_view>, 26> table;
    for (const std::string_view h : k_hedges) {
      table[static_cast<std::size_t>(h.front() - 'a')].push_back(h);
    }
    return table;
  }();
  for (std::size_t i = 0; i < folded.size(); ++i) {
    const char c = folded[i];
    if (c < 'a' || c > 'z' || (i > 0 && is_alpha(folded[i - 1]))) {
      continue;
    }
    for (const std::string_view h : by_letter[static_cast<std::size_t>(c - 'a')]) {
      if (folded.substr(i).starts_with(h)) {
        return true;
      }
    }
  }
  return false;
}

constexpr std::array<std::string_view, 11> k_openers = {
    "sure",     "certainly",      "of course",     "absolutely",   "here is",         "here's",
    "here are", "great question", "happy to help", "i'd be happy", "i would be happy"};

// Markdown structure, found line by line outside code fences and outside the JSON payload.
struct Markdown {
  bool heading = false;
  bool table = false;
  bool bold = false;
  std::size_t list_indent = k_npos; // the smallest indentation of a list item
  std::set<std::string> list_markers;

  void line(std::string_view line, bool previous_has_pipe) {
    const std::size_t indent = line.find_first_not_of(" \t");
    if (indent == k_npos) {
      return;
    }
    const std::string_view c = line.substr(indent);
    if (indent <= 3 && c.front() == '#') {
      std::size_t hashes = c.find_first_not_of('#');
      hashes = hashes == k_npos ? c.size() : hashes;
      heading |= hashes <= 6 && (hashes == c.size() || c[hashes] == ' ');
    }
    if (const std::string marker = list_marker(c); !marker.empty()) {
      if (indent < list_indent) {
        list_indent = indent;
        list_markers.clear();
      }
      if (indent == list_indent) {
        list_markers.insert(marker);
      }
    }
    if (previous_has_pipe && c.find('|') != k_npos && c.find('-') != k_npos &&
        c.find_first_not_of("|-: \t") == k_npos) {
      table = true;
    }
    if (const std::size_t open = line.find("**"); open != k_npos) {
      bold |= line.find("**", open + 2) != k_npos;
    }
  }

  static std::string list_marker(std::string_view c) {
    if (c.size() >= 2 && (c[0] == '-' || c[0] == '*' || c[0] == '+') && c[1] == ' ') {
      return std::string(1, c[0]);
    }
    if (c.starts_with("\xE2\x80\xA2 ")) {
      return "\xE2\x80\xA2"; // •
    }
    std::size_t digits = 0;
    while (digits < c.size() && digits < 9 && is_digit(c[digits])) {
      ++digits;
    }
    if (digits > 0 && digits + 1 < c.size() && (c[digits] == '.' || c[digits] == ')') &&
        c[digits + 1] == ' ') {
      return std::string("1") + c[digits];
    }
    return "";
  }

  std::string list_value() const {
    if (list_markers.empty()) {
      return "none";
    }
    return list_markers.size() == 1 ? *list_markers.begin() : "mixed";
  }
};

std::string_view whitespace_kind(char c) {
  if (c == '\n' || c == '\r') {
    return "newline";
  }
  return is_space(c) ? "space" : "none";
}

std::string_view yes_no(bool b) {
  return b ? "yes" : "no";
}

} // namespace

std::optional<std::string_view> Fingerprint::category(std::string_view name) const {
  const auto it = categorical.find(name);
  if (it == categorical.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<double> Fingerprint::number(std::string_view name) const {
  const auto it = numeric.find(name);
  if (it == numeric.end()) {
    return std::nullopt;
  }
  return it->second;
}

namespace {

// The payload's JSON (type, shape, key case), its fence, and the text around it; or, without a
// payload, whether the output opens with a stock phrase. Quote characters in the JSON's strings
// go to `quotes`.
void payload_features(std::string_view output, std::string_view t, const std::vector<Fence>& fences,
                      const std::optional<Payload>& payload, QuoteCount& quotes, Fingerprint& fp) {
  auto& cat = fp.categorical;
  if (payload && payload->value) {
    JsonWalk walk(quotes);
    walk.walk(*payload->value);
    const Kind kind = std::visit([](const auto& v) { return kind_of(v); }, *payload->value);
    cat["json"] = json_type(kind);
    if (kind == Kind::object || kind == Kind::array) {
      cat["json_shape"] = walk.shape();
    }
    if (std::string key_case = walk.key_case(); !key_case.empty()) {
      cat["key_case"] = std::move(key_case);
    }
  } else {
    cat["json"] = "none";
  }

  if (fences.empty()) {
    cat["code_fence"] = "none";
  } else {
    // The fence that holds the JSON, else the first.
    const Fence& fence = fences[payload && payload->fence != k_npos ? payload->fence : 0];
    cat["code_fence"] =
        fence.lang.empty() ? std::string("fenced") : std::string("fenced:") + fence.lang;
  }

  if (payload) {
    const std::string_view before = text::trim(output.substr(0, payload->begin));
    const std::string_view after = text::trim(output.substr(payload->end));
    cat["preamble"] = yes_no(!before.empty());
    cat["trailing_text"] = yes_no(!after.empty());
    if (!before.empty()) {
      fp.excerpts["preamble"] = excerpt(before);
    }
    if (!after.empty()) {
      fp.excerpts["trailing_text"] = excerpt(after);
    }
    if (!fences.empty()) {
      cat["whole_fence"] =
          yes_no(fences.size() == 1 && payload->fence != k_npos && before.empty() && after.empty());
    }
  } else {
    const std::string first_words = folded_start(t, 40);
    const auto opener = std::find_if(k_openers.begin(), k_openers.end(), [&](std::string_view o) {
      return first_words.starts_with(o) &&
             (first_words.size() == o.size() || !is_alpha(first_words[o.size()]));
    });
    cat["opener"] = yes_no(opener != k_openers.end());
    if (opener != k_openers.end()) {
      fp.excerpts["opener"] = excerpt(t);
    }
  }
}

// What the answer is: an answer tag, a \boxed{} answer, a refusal, hedging.
void answer_features(std::string_view t, Fingerprint& fp) {
  auto& cat = fp.categorical;
  answer_tag(t, fp);
  cat["boxed"] = boxed(t);
  const std::string opening = folded_start(t, k_refusal_window);
  const bool refusal = std::any_of(k_refusals.begin(), k_refusals.end(),
                                   [&](std::string_view r) { return opening.find(r) != k_npos; });
  cat["refusal"] = yes_no(refusal);
  if (refusal) {
    fp.excerpts["refusal"] = excerpt(t);
  }
  const bool hedge = hedges(opening);
  cat["hedge"] = yes_no(hedge);
  if (hedge) {
    fp.excerpts["hedge"] = excerpt(t);
  }
}

// Markdown and quotes of the prose: lines outside fences and outside the JSON payload (a bare
// JSON output has none); and the whitespace around the output.
void prose_features(std::string_view output, const std::vector<Fence>& fences,
                    const std::optional<Payload>& payload, QuoteCount& quotes, Fingerprint& fp) {
  Markdown markdown;
  if (!payload || !payload->bare) {
    const std::size_t json_begin =
        payload && payload->value && payload->fence == k_npos ? payload->begin : k_npos;
    const std::size_t json_end = json_begin == k_npos ? k_npos : payload->end;
    std::size_t fence = 0;
    bool previous_has_pipe = false;
    for_each_line(output, [&](std::size_t begin, std::size_t end, std::size_t) {
      while (fence < fences.size() && fences[fence].end < begin) {
        ++fence;
      }
      if (fence < fences.size() && begin >= fences[fence].begin) {
        previous_has_pipe = false;
        return; // inside a fence (its opening or closing line included)
      }
      std::string_view line = output.substr(begin, end - begin);
      if (json_begin != k_npos && begin < json_end && end > json_begin) {
        // The prose parts of a line that holds part of the JSON.
        if (begin < json_begin) {
          quotes.scan(output.substr(begin, json_begin - begin));
        }
        if (end > json_end) {
          quotes.scan(output.substr(json_end, end - json_end));
        }
        if (begin >= json_begin) {
          previous_has_pipe = false;
          return;
        }
        line = output.substr(begin, json_begin - begin);
      } else {
        quotes.scan(line);
      }
      markdown.line(line, previous_has_pipe);
      previous_has_pipe = line.find('|') != k_npos;
    });
  }
  auto& cat = fp.categorical;
  cat["headings"] = yes_no(markdown.heading);
  cat["list_marker"] = markdown.list_value();
  cat["table"] = yes_no(markdown.table);
  cat["bold"] = yes_no(markdown.bold);
  if (std::string quote_style = quotes.value(); !quote_style.empty()) {
    cat["quotes"] = std::move(quote_style);
  }
  cat["leading_whitespace"] = output.empty() ? "none" : whitespace_kind(output.front());
  cat["trailing_whitespace"] = output.empty() ? "none" : whitespace_kind(output.back());
}

// Length in code points and non-blank lines, without the fence lines themselves (code_fence
// tells of those).
void size_features(std::string_view output, const std::vector<Fence>& fences, Fingerprint& fp) {
  fp.numeric["length"] = static_cast<double>(count_code_points(output));
  std::size_t lines = 0;
  for_each_line(output, [&](std::size_t begin, std::size_t end, std::size_t) {
    lines += output.substr(begin, end - begin).find_first_not_of(" \t\f\v\r") != k_npos;
  });
  for (const Fence& f : fences) {
    lines -= f.closed ? 2 : 1;
  }
  fp.numeric["lines"] = static_cast<double>(lines);
}

// The tools a reply called: their names sorted and distinct, joined by "," (each printable,
// shortened, with "," and "%" percent-encoded as in a shape), at most k_max_tools of them; "none"
// for a reply that called none. A name is the model's text: bounded like any other.
constexpr std::size_t k_max_tools = 16;

std::string tools_value(const std::vector<std::string>& names) {
  if (names.empty()) {
    return "none";
  }
  std::vector<std::string> keys;
  keys.reserve(names.size());
  for (const std::string& name : names) {
    std::string key;
    append_shape_key(key, name);
    keys.push_back(key.empty() ? std::string("?") : std::move(key));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < k_max_tools; ++i) {
    out += (i == 0 ? "" : ",") + keys[i];
  }
  if (keys.size() > k_max_tools) {
    out += ",";
    out += k_ellipsis;
  }
  return out;
}

} // namespace

std::vector<std::string> tool_names(const std::vector<reply::ToolCall>& calls) {
  std::vector<std::string> names;
  names.reserve(calls.size());
  for (const reply::ToolCall& call : calls) {
    names.push_back(call.name);
  }
  return names;
}

Fingerprint fingerprint(std::string_view output, const std::vector<std::string>& called) {
  Fingerprint fp;
  const std::string_view t = text::trim(output);
  const std::vector<Fence> fences = find_fences(output);
  const std::optional<Payload> payload = find_payload(output, fences);
  QuoteCount quotes; // of the JSON's strings and of the prose
  payload_features(output, t, fences, payload, quotes, fp);
  answer_features(t, fp);
  prose_features(output, fences, payload, quotes, fp);
  size_features(output, fences, fp);
  // Last: "tools" sorts after the other categorical features, so it is appended, not inserted.
  fp.categorical["tools"] = tools_value(called);
  fp.categorical.shrink_to_fit();
  fp.excerpts.shrink_to_fit();
  return fp;
}

json to_json(const Fingerprint& fp) {
  return json(to_ordered_json(fp));
}

namespace {

using Members = std::vector<std::pair<std::string, ordered_json>>;

// An object of `members` in nlohmann::json's order: keys sorted, the last of a repeated key
// kept (as assigning it again does in a json object).
ordered_json sorted_object(Members members) {
  std::stable_sort(members.begin(), members.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  ordered_json out = ordered_json::object();
  auto& object = out.get_ref<ordered_json::object_t&>();
  object.reserve(members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i + 1 < members.size() && members[i + 1].first == members[i].first) {
      continue;
    }
    // The keys are unique now: append without ordered_map's search for an existing one.
    object.std::vector<ordered_json::object_t::value_type>::emplace_back(
        std::move(members[i].first), std::move(members[i].second));
  }
  return out;
}

} // namespace

ordered_json to_ordered_json(const Fingerprint& fp) {
  Members members;
  members.reserve(fp.categorical.size() + fp.numeric.size() + 2);
  members.emplace_back("v", k_fingerprint_version);
  for (const auto& [name, value] : fp.categorical) {
    members.emplace_back(text::printable(name), text::printable(value));
  }
  for (const auto& [name, value] : fp.numeric) {
    if (!std::isfinite(value)) {
      continue;
    }
    if (value == std::floor(value) && std::abs(value) < 9.0e15) {
      members.emplace_back(text::printable(name), static_cast<std::int64_t>(value));
    } else {
      members.emplace_back(text::printable(name), value);
    }
  }
  if (!fp.excerpts.empty()) {
    Members excerpts;
    for (const auto& [name, value] : fp.excerpts) {
      excerpts.emplace_back(text::printable(name), text::printable(value));
    }
    members.emplace_back("excerpts", sorted_object(std::move(excerpts)));
  }
  return sorted_object(std::move(members));
}

namespace {

template <typename Json> std::optional<Fingerprint> read_fingerprint(const Json& value) {
  if (!value.is_object()) {
    return std::nullopt;
  }
  const auto version = value.find("v");
  if (version == value.end() || !version->is_number_integer() ||
      version->template get<std::int64_t>() != k_fingerprint_version) {
    return std::nullopt;
  }
  Fingerprint fp;
  for (const auto& [key, item] : value.items()) {
    if (key == "v") {
      continue;
    }
    const std::string name = text::shorten(key, k_max_key_chars);
    if (key == "excerpts") {
      if (item.is_object()) {
        for (const auto& [excerpt_name, excerpt_value] : item.items()) {
          if (excerpt_value.is_string()) {
            fp.excerpts[text::shorten(excerpt_name, k_max_key_chars)] = text::shorten(
                excerpt_value.template get_ref<const std::string&>(), 2 * k_excerpt_chars);
          }
        }
      }
    } else if (item.is_string()) {
      fp.categorical[name] =
          text::shorten(item.template get_ref<const std::string&>(), 2 * k_max_shape_chars);
    } else if (item.is_number()) {
      if (const auto number = item.template get<double>(); std::isfinite(number)) {
        fp.numeric[name] = number;
      }
    }
  }
  fp.categorical.shrink_to_fit();
  fp.excerpts.shrink_to_fit();
  return fp;
}

} // namespace

std::optional<Fingerprint> fingerprint_from_json(const json& value) {
  return read_fingerprint(value);
}

std::optional<Fingerprint> fingerprint_from_json(const nlohmann::ordered_json& value) {
  return read_fingerprint(value);
}

} // namespace promptops::golden
