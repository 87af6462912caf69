#include "jsonschema/regex.hpp"

#include <re2/re2.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <utility>

namespace promptops::jsonschema::detail {

namespace {

// ECMA-262 WhiteSpace and LineTerminator; RE2's \s is ASCII only and lacks \v.
constexpr std::string_view k_ecma_space =
    "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}\\x{FEFF}";

constexpr std::array<std::pair<std::string_view, std::string_view>, 42> k_categories{{
    {"Letter", "L"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Private_Use", "Co"},
    {"Surrogate", "Cs"},
    {"L&", "L"},
    {"Any", "Any"},
}};

std::string_view category_short_name(std::string_view name) {
  for (const auto& [long_name, short_name] : k_categories) {
    if (long_name == name) {
      return short_name;
    }
  }
  return name;
}

// \p{...} names: "Letter", "gc=Letter", "Script=Greek", "sc=Greek" become RE2's "L", "Greek".
std::string unicode_property(std::string_view name) {
  if (const auto eq = name.find('='); eq != std::string_view::npos) {
    const auto key = name.substr(0, eq);
    const auto value = name.substr(eq + 1);
    if (key == "General_Category" || key == "gc") {
      return std::string(category_short_name(value));
    }
    return std::string(value); // Script=, sc=, Script_Extensions=, scx=
  }
  return std::string(category_short_name(name));
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

unsigned hex_number(std::string_view digits) {
  unsigned value = 0;
  for (const char c : digits) {
    value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return value;
}

std::string code_point_escape(unsigned code_point) {
  std::array<char, 16> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "\\x{%X}", code_point);
  return buffer.data();
}

// Reads "\uXXXX" at `pos` (pointing at the backslash); returns the code unit or -1.
long read_u4(std::string_view source, std::size_t pos) {
  if (pos + 6 > source.size() || source[pos] != '\\' || source[pos + 1] != 'u') {
    return -1;
  }
  for (std::size_t k = pos + 2; k < pos + 6; ++k) {
    if (!is_hex(source[k])) {
      return -1;
    }
  }
  return static_cast<long>(hex_number(source.substr(pos + 2, 4)));
}

} // namespace

std::string translate_ecma_regex(std::string_view source) {
  std::string out;
  out.reserve(source.size() + 16);
  bool in_class = false;
  for (std::size_t i = 0; i < source.size(); ++i) {
    const char c = source[i];
    if (c == '\\' && i + 1 < source.size()) {
      const char e = source[i + 1];
      switch (e) {
      case 's':
        out.append(in_class ? "" : "[").append(k_ecma_space).append(in_class ? "" : "]");
        ++i;
        continue;
      case 'S':
        if (!in_class) {
          out.append("[^").append(k_ecma_space).append("]");
          ++i;
          continue;
        }
        break;
      case 'c':
        if (i + 2 < source.size() && std::isalpha(static_cast<unsigned char>(source[i + 2]))) {
          out.append(code_point_escape(static_cast<unsigned>(source[i + 2]) % 32));
          i += 2;
          continue;
        }
        break;
      case 'b':
        if (in_class) {
          out.append("\\x08");
          ++i;
          continue;
        }
        break;
      case 'v':
        out.append("\\x0B");
        ++i;
        continue;
      case '0':
        if (i + 2 >= source.size() || source[i + 2] < '0' || source[i + 2] > '9') {
          out.append("\\x00");
          ++i;
          continue;
        }
        break;
      case '/':
        out.push_back('/');
        ++i;
        continue;
      case 'u': {
        if (i + 2 < source.size() && source[i + 2] == '{') {
          const auto close = source.find('}', i + 3);
          if (close != std::string_view::npos) {
            out.append("\\x").append(source.substr(i + 2, close - i - 1));
            i = close;
            continue;
          }
          break;
        }
        const long unit = read_u4(source, i);
        if (unit < 0) {
          break;
        }
        unsigned code_point = static_cast<unsigned>(unit);
        std::size_t consumed = 6;
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          const long low = read_u4(source, i + 6);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            code_point = 0x10000 + ((static_cast<unsigned>(unit) - 0xD800) << 10) +
                         (static_cast<unsigned>(low) - 0xDC00);
            consumed = 12;
          }
        }
        out.append(code_point_escape(code_point));
        i += consumed - 1;
        continue;
      }
      case 'p':
      case 'P': {
        if (i + 2 < source.size() && source[i + 2] == '{') {
          const auto close = source.find('}', i + 3);
          if (close != std::string_view::npos) {
            out.push_back('\\');
            out.push_back(e);
            out.push_back('{');
            out.append(unicode_property(source.substr(i + 3, close - i - 3)));
            out.push_back('}');
            i = close;
            continue;
          }
        }
        break;
      }
      default:
        break;
      }
      out.push_back(c);
      out.push_back(e);
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') {
        in_class = false;
      } else if (c == '[') {
        out.append("\\[");
        continue;
      }
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      if (source.substr(i, 2) == "[]") {
        out.append("[^\\x00-\\x{10FFFF}]");
        ++i;
        continue;
      }
      if (source.substr(i, 3) == "[^]") {
        out.append("[\\x00-\\x{10FFFF}]");
        i += 2;
        continue;
      }
      in_class = true;
      out.push_back('[');
      if (i + 1 < source.size() && source[i + 1] == '^') {
        out.push_back('^');
        ++i;
      }
      continue;
    }
    if (c == '.') {
      out.append("[^\\n\\r\\x{2028}\\x{2029}]");
      continue;
    }
    if (c == '(' && source.substr(i, 3) == "(?<" && i + 3 < source.size() && source[i + 3] != '=' &&
        source[i + 3] != '!') {
      out.append("(?P<");
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

bool is_ecma_syntax(std::string_view source) {
  constexpr std::string_view k_letter_escapes = "dDwWsSbBfnrtvcxukpP";
  for (std::size_t i = 0; i + 1 < source.size(); ++i) {
    if (source[i] == '\\') {
      const char e = source[i + 1];
      if (std::isalpha(static_cast<unsigned char>(e)) &&
          k_letter_escapes.find(e) == std::string_view::npos) {
        return false;
      }
      ++i;
    } else if (source[i] == '(' && source[i + 1] == '?') {
      const auto rest = source.substr(i + 2);
      const bool known = rest.substr(0, 1) == ":" || rest.substr(0, 1) == "=" ||
                         rest.substr(0, 1) == "!" || rest.substr(0, 1) == "<";
      if (!known) {
        return false;
      }
    }
  }
  return true;
}

Regex::Regex(std::string source, std::unique_ptr<re2::RE2> re)
    : m_source(std::move(source)), m_re(std::move(re)) {}
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

std::optional<Regex> Regex::compile(std::string_view ecma_source, std::string& error) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_never_capture(true);
  const std::string translated = translate_ecma_regex(ecma_source);
  auto re = std::make_unique<re2::RE2>(translated, options);
  if (!re->ok()) {
    error = re->error();
    return std::nullopt;
  }
  return Regex(std::string(ecma_source), std::move(re));
}

bool Regex::search(std::string_view text) const {
  return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *m_re);
}

} // namespace promptops::jsonschema::detail
