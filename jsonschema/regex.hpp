#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace promptops::jsonschema::detail {

// An ECMA-262 regular expression ("pattern", "patternProperties", format "regex") run by RE2,
// which matches in linear time and cannot blow the stack on long input.
class Regex {
public:
  // Compile `ecma_source`. Returns std::nullopt and sets `error` when RE2 cannot express it
  // (backreferences, lookaround) or it is malformed.
  static std::optional<Regex> compile(std::string_view ecma_source, std::string& error);

  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // True when the expression matches somewhere in `text` (ECMA `test`, unanchored).
  bool search(std::string_view text) const;

  // The pattern as written in the schema.
  const std::string& source() const { return m_source; }

private:
  Regex(std::string source, std::unique_ptr<re2::RE2> re);
  std::string m_source;
  std::unique_ptr<re2::RE2> m_re;
};

// False for syntax RE2 accepts but ECMA-262 rejects: "\a"-style escapes of letters ECMA
// does not define, Python's "(?P<name>...)" and inline flag groups such as "(?i)". Used by
// the "regex" format, which asks for ECMA-262 syntax.
bool is_ecma_syntax(std::string_view source);

// Translate ECMA-262 syntax RE2 lacks into RE2 syntax (\p{Letter}, \cX, \uXXXX, the Unicode
// \s, "." not matching line terminators, (?<name>...)). Exposed for tests.
std::string translate_ecma_regex(std::string_view ecma_source);

} // namespace promptops::jsonschema::detail
