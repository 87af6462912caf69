#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// The parsed form of a template, shared by the parser and the renderer; not part of the API.
namespace promptops::mustache::detail {

// Sections may nest this deep inside one template (partials count separately, through
// RenderOptions::max_partial_depth).
inline constexpr std::size_t k_max_section_depth = 512;

enum class NodeKind : std::uint8_t {
  text,     // literal text
  escaped,  // {{name}}: escaped when RenderOptions::escape asks for it
  raw,      // {{{name}}} and {{&name}}
  section,  // {{#name}}
  inverted, // {{^name}}
  partial,  // {{>name}}
  indent,   // a line of the source starts here, just before a section's closing tag
};

// A name split on its dots once, at parse time. Empty `parts` is the implicit iterator ".".
struct Name {
  std::vector<std::string> parts;
};

// One node of the flat tree: a section's children are the nodes that follow it, up to `end`.
struct Node {
  NodeKind kind = NodeKind::text;
  // A line of the source starts right before this node: the indentation of a standalone
  // partial goes here when this program renders as that partial.
  bool line_start = false;
  // partial: the tag stood alone on its line, so its lines take that line's indentation.
  bool standalone = false;
  // escaped, raw, section, inverted: into Program::names; partial: into Program::partial_names.
  std::uint32_t index = 0;
  // section, inverted: one past the last node inside it.
  std::uint32_t end = 0;
  // text: its characters in Program::text; partial: the indentation of its line.
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

struct Program {
  std::vector<Node> nodes;
  std::string text;
  std::vector<Name> names;
  std::vector<std::string> partial_names;
  std::vector<std::string> variables; // first segments, in order of first use
  std::vector<std::string> partials;  // partial names, in order of first use

  std::string_view text_of(const Node& node) const {
    return std::string_view(text).substr(node.offset, node.length);
  }
};

// Parse `source` with the default delimiters. Throws TemplateSyntaxError.
Program parse_program(std::string_view source);

} // namespace promptops::mustache::detail
