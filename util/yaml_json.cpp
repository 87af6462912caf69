#include "util/yaml_json.hpp"

#include "util/json_pointer.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace promptops::util {

namespace {
// Registry YAML files are small; yaml-cpp holds a file's tree at many times its size.
constexpr std::size_t k_max_yaml_bytes = 16u << 20;
// Text (strings, keys, JSON Pointers) a document may expand to through aliases: a count of
// values alone does not bound memory when each alias names a long string.
constexpr std::size_t k_max_expanded_bytes = 64u << 20;
} // namespace

void SourceMap::set_value(const std::string& pointer, SourcePosition position) {
  m_values[pointer] = position;
}

void SourceMap::set_key(const std::string& pointer, SourcePosition position) {
  m_keys[pointer] = position;
}

SourcePosition SourceMap::value_position(std::string_view pointer) const {
  std::string p(pointer);
  for (;;) {
    if (auto it = m_values.find(p); it != m_values.end()) {
      return it->second;
    }
    if (p.empty()) {
      return {};
    }
    p = pointer_parent(p);
  }
}

SourcePosition SourceMap::key_position(std::string_view pointer) const {
  if (auto it = m_keys.find(std::string(pointer)); it != m_keys.end()) {
    return it->second;
  }
  return value_position(pointer);
}

namespace {

SourcePosition to_position(const YAML::Mark& mark) {
  if (mark.line < 0) {
    return {};
  }
  // yaml-cpp counts from 0.
  return {static_cast<std::size_t>(mark.line) + 1, static_cast<std::size_t>(mark.column) + 1};
}

bool all_of(std::string_view s, std::string_view allowed) {
  return !s.empty() && s.find_first_not_of(allowed) == std::string_view::npos;
}

// YAML 1.2 core schema resolution of a plain scalar.
nlohmann::json resolve_plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return nullptr;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return false;
  }
  std::string_view body = s;
  bool negative = false;
  if (body[0] == '-' || body[0] == '+') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (all_of(body, "0123456789")) {
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(s.data() + (s[0] == '+' ? 1 : 0), s.data() + s.size(), value);
    if (ec == std::errc() && ptr == s.data() + s.size()) {
      return value;
    }
    return std::strtod(s.c_str(), nullptr); // too large for 64 bits: keep it as a number
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o') &&
      all_of(std::string_view(s).substr(2), s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567")) {
    std::int64_t value = 0;
    auto [ptr, ec] =
        std::from_chars(s.data() + 2, s.data() + s.size(), value, s[1] == 'x' ? 16 : 8);
    if (ec == std::errc() && ptr == s.data() + s.size()) {
      return value;
    }
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  // [0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)? or \.[0-9]+(...)
  {
    std::size_t i = 0;
    std::size_t digits = 0;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) {
      ++i;
      ++digits;
    }
    bool ok = true;
    if (i < body.size() && body[i] == '.') {
      ++i;
      while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) {
        ++i;
        ++digits;
      }
    }
    if (digits == 0) {
      ok = false;
    }
    if (ok && i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
      ++i;
      if (i < body.size() && (body[i] == '+' || body[i] == '-')) {
        ++i;
      }
      const std::size_t exp_start = i;
      while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) {
        ++i;
      }
      ok = i > exp_start;
    }
    if (ok && i == body.size()) {
      return std::strtod(s.c_str(), nullptr);
    }
  }
  return s;
}

class Converter {
public:
  Converter(const std::string& display_path, const YamlLimits& limits, SourceMap& map,
            std::size_t max_bytes)
      : m_path(display_path), m_limits(limits), m_map(map), m_max_bytes(max_bytes) {}

  nlohmann::json convert(const YAML::Node& node, const std::string& pointer, std::size_t depth) {
    if (++m_nodes > m_limits.max_nodes) {
      throw InputError(m_path, to_position(node.Mark()),
                       "document too large: more than " + std::to_string(m_limits.max_nodes) +
                           " values (aliases expanding?)");
    }
    if (depth > m_limits.max_depth) {
      throw InputError(m_path, to_position(node.Mark()),
                       "document nested deeper than " + std::to_string(m_limits.max_depth) +
                           " levels");
    }
    m_bytes += pointer.size() + (node.IsScalar() ? node.Scalar().size() : 0);
    if (m_bytes > m_max_bytes) {
      throw InputError(m_path, to_position(node.Mark()),
                       "document too large: more than " + std::to_string(m_max_bytes >> 20) +
                           " MiB of text (aliases expanding?)");
    }
    m_map.set_value(pointer, to_position(node.Mark()));
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "?") {
        return resolve_plain_scalar(node.Scalar());
      }
      if (tag == "!" || tag == "tag:yaml.org,2002:str") {
        return node.Scalar();
      }
      if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
          tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null") {
        nlohmann::json value = resolve_plain_scalar(node.Scalar());
        if (value.is_string()) {
          throw InputError(m_path, to_position(node.Mark()),
                           "\"" + node.Scalar() + "\" does not match its tag \"" + tag + "\"");
        }
        return value;
      }
      return node.Scalar(); // unknown local tags: keep the text
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      std::size_t index = 0;
      for (const auto& item : node) {
        array.push_back(convert(item, pointer_append(pointer, index), depth + 1));
        ++index;
      }
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& item : node) {
        const YAML::Node& key = item.first;
        if (!key.IsScalar()) {
          throw InputError(m_path, to_position(key.Mark()), "mapping keys must be plain strings");
        }
        const std::string name = key.Scalar();
        const std::string child = pointer_append(pointer, name);
        if (object.contains(name)) {
          throw InputError(m_path, to_position(key.Mark()), "duplicate key \"" + name + "\"");
        }
        m_map.set_key(child, to_position(key.Mark()));
        object[name] = convert(item.second, child, depth + 1);
      }
      return object;
    }
    }
    return nullptr;
  }

private:
  const std::string& m_path;
  const YamlLimits& m_limits;
  SourceMap& m_map;
  std::size_t m_max_bytes;
  std::size_t m_nodes = 0;
  std::size_t m_bytes = 0;
};

std::string lowercase_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && (s.size() < 2 || !(s[1] >= 'A' && s[1] <= 'Z'))) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

} // namespace

ParsedDocument parse_yaml(std::string_view text, const std::string& display_path,
                          const YamlLimits& limits) {
  ParsedDocument doc;
  if (text.size() > k_max_yaml_bytes) {
    throw InputError(display_path, {},
                     "file too large: " + std::to_string(text.size()) + " bytes, more than the " +
                         std::to_string(k_max_yaml_bytes >> 20) + " MiB a YAML file may hold");
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw InputError(display_path, to_position(e.mark), "invalid YAML: " + lowercase_first(e.msg));
  }
  try {
    Converter converter(display_path, limits, doc.source_map,
                        k_max_expanded_bytes + 4 * text.size());
    doc.value = converter.convert(root, "", 0);
  } catch (const YAML::Exception& e) {
    throw InputError(display_path, to_position(e.mark), "invalid YAML: " + lowercase_first(e.msg));
  }
  return doc;
}

SourcePosition position_of_offset(std::string_view text, std::size_t offset) {
  SourcePosition pos{1, 1};
  const std::size_t end = std::min(offset, text.size());
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
  }
  return pos;
}

nlohmann::json parse_json(std::string_view text, const std::string& display_path) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points one past the offending character.
    const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while
    // parsing value - invalid literal; last read: 'tru'" -> keep what follows "- " or ": ".
    auto cut = what.find("syntax error while parsing");
    std::string problem = cut != std::string::npos ? what.substr(cut) : std::string("invalid JSON");
    throw InputError(display_path, position_of_offset(text, offset), "invalid JSON: " + problem);
  } catch (const nlohmann::json::out_of_range&) { // a number beyond a double: 1e400
    throw InputError(display_path, {}, "invalid JSON: a number too large");
  }
}

} // namespace promptops::util
