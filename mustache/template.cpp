#include "mustache/template.hpp"

#include "mustache/program.hpp"

#include <charconv>
#include <unordered_map>
#include <utility>

namespace promptops::mustache {

namespace {

using detail::Name;
using detail::Node;
using detail::NodeKind;
using detail::Program;
using nlohmann::json;

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

// Falsey as in the spec's JavaScript reading (`!!data`), minus the number 0: a count of zero
// is still something a prompt may want to show. Missing, null, false, "" and [] are falsey.
bool truthy(const json* value) {
  if (value == nullptr) {
    return false;
  }
  switch (value->type()) {
  case json::value_t::null:
  case json::value_t::discarded:
    return false;
  case json::value_t::boolean:
    return value->get<bool>();
  case json::value_t::string:
    return !value->get_ref<const std::string&>().empty();
  case json::value_t::array:
    return !value->empty();
  default:
    return true;
  }
}

// The spec's HTML escaping: exactly & " < > (the spec's "HTML Escaping" test); the
// apostrophe is left alone, as the spec leaves it.
void append_html(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    default:
      out += c;
    }
  }
}

void append_text(std::string& out, std::string_view text, bool html) {
  if (html) {
    append_html(out, text);
  } else {
    out += text;
  }
}

template <typename Integer> void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// How a value reads in a prompt: strings as they are; numbers as JSON writes them (85, 1.21:
// the shortest form that reads back the same, as the spec's "Decimal Interpolation" wants);
// true and false as words, since a prompt author writing "Premium: {{premium}}" means them;
// null as nothing (the spec's "Null Interpolation"); objects and arrays as compact JSON, which
// a model reads better than any flattening. The spec says nothing of booleans and containers.
void append_value(std::string& out, const json& value, bool html) {
  switch (value.type()) {
  case json::value_t::null:
  case json::value_t::discarded:
    return;
  case json::value_t::string:
    append_text(out, value.get_ref<const std::string&>(), html);
    return;
  case json::value_t::boolean:
    out += value.get<bool>() ? "true" : "false";
    return;
  case json::value_t::number_integer:
    append_integer(out, value.get<json::number_integer_t>());
    return;
  case json::value_t::number_unsigned:
    append_integer(out, value.get<json::number_unsigned_t>());
    return;
  case json::value_t::number_float:
  case json::value_t::object:
  case json::value_t::array:
  case json::value_t::binary:
    append_text(out, value.dump(-1, ' ', false, json::error_handler_t::replace), html);
    return;
  }
}

// Append `text` with `indent` after each newline that has more text after it on the same node.
void append_indented(std::string& out, std::string_view text, const std::string& indent) {
  std::size_t begin = 0;
  while (true) {
    const std::size_t newline = text.find('\n', begin);
    if (newline == std::string_view::npos || newline + 1 == text.size()) {
      break;
    }
    out.append(text.substr(begin, newline + 1 - begin));
    out += indent;
    begin = newline + 1;
  }
  out.append(text.substr(begin));
}

// Renders without recursion: each open section iteration or partial is a Frame on a stack, so
// deep nesting costs heap, not the call stack.
class Renderer {
public:
  explicit Renderer(const RenderOptions& options) : m_options(options) {}

  std::string run(const Program& root, const json& data) {
    std::string out;
    out.reserve(root.text.size() + root.text.size() / 2 + 64);
    push_context(&data);
    m_indents.emplace_back();
    push_frame(Frame{.program = &root, .end = static_cast<std::uint32_t>(root.nodes.size())});

    while (!m_frames.empty()) {
      Frame& frame = m_frames.back();
      if (frame.pc == frame.end) {
        if (frame.list != nullptr && ++frame.index < frame.list->size()) {
          pop_context();
          push_context(&(*frame.list)[frame.index]);
          frame.pc = frame.begin;
          continue;
        }
        if (frame.pushed_context) {
          pop_context();
        }
        if (frame.partial) {
          m_indents.pop_back();
        }
        m_frames.pop_back();
        continue;
      }

      const Program& program = *frame.program;
      const Node& node = program.nodes[frame.pc];
      const std::string& indent = m_indents.back();
      if (node.line_start && !indent.empty()) {
        out += indent;
      }
      switch (node.kind) {
      case NodeKind::text:
        if (indent.empty()) {
          out += program.text_of(node);
        } else {
          append_indented(out, program.text_of(node), indent);
        }
        ++frame.pc;
        break;
      case NodeKind::indent: // only its line start, written above
        ++frame.pc;
        break;
      case NodeKind::escaped:
      case NodeKind::raw: {
        const json* value = lookup(program.names[node.index]);
        if (value != nullptr) {
          const bool html = node.kind == NodeKind::escaped && m_options.escape == Escape::html;
          append_value(out, *value, html);
        }
        ++frame.pc;
        break;
      }
      case NodeKind::section:
      case NodeKind::inverted: {
        const std::uint32_t begin = frame.pc + 1;
        frame.pc = node.end;
        if (begin == node.end) {
          break;
        }
        const json* value = lookup(program.names[node.index]);
        const bool shown = truthy(value);
        if (node.kind == NodeKind::inverted) {
          if (!shown) {
            push_frame(Frame{.program = &program, .pc = begin, .begin = begin, .end = node.end});
          }
          break;
        }
        if (!shown) {
          break;
        }
        const bool list = value->is_array();
        push_context(list ? &value->front() : value);
        push_frame(Frame{.program = &program,
                         .pc = begin,
                         .begin = begin,
                         .end = node.end,
                         .list = list ? value : nullptr,
                         .pushed_context = true});
        break;
      }
      case NodeKind::partial: {
        ++frame.pc;
        const std::string& name = program.partial_names[node.index];
        const Program* partial = partial_program(name);
        if (partial == nullptr) {
          break;
        }
        if (m_indents.size() > m_options.max_partial_depth) {
          throw TemplateRenderError("partial " + quoted(name) + " nested deeper than " +
                                    std::to_string(m_options.max_partial_depth) + " levels");
        }
        std::string next_indent;
        if (node.standalone) {
          next_indent = indent;
          next_indent += program.text_of(node);
        }
        m_indents.push_back(std::move(next_indent));
        push_frame(Frame{.program = partial,
                         .end = static_cast<std::uint32_t>(partial->nodes.size()),
                         .partial = true});
        break;
      }
      }
    }
    return out;
  }

private:
  struct Frame {
    const Program* program = nullptr;
    std::uint32_t pc = 0;    // next node
    std::uint32_t begin = 0; // first node, where each list item starts again
    std::uint32_t end = 0;
    const json* list = nullptr; // the array a section walks, with the item at `index` on top
    std::size_t index = 0;
    bool pushed_context = false;
    bool partial = false; // a partial's body: leaving it drops its indentation
  };

  void push_frame(const Frame& frame) { m_frames.push_back(frame); }

  void push_context(const json* context) {
    m_contexts.push_back(context);
    if (context->is_object()) {
      m_scopes.push_back(context);
    }
  }

  void pop_context() {
    if (m_contexts.back()->is_object()) {
      m_scopes.pop_back();
    }
    m_contexts.pop_back();
  }

  // The spec's name resolution: the first part on the context stack, top down, in the first
  // object that has it; every further part in the value found so far only.
  const json* lookup(const Name& name) const {
    if (name.parts.empty()) {
      return m_contexts.back();
    }
    const std::string& first = name.parts.front();
    const json* value = nullptr;
    for (auto scope = m_scopes.rbegin(); scope != m_scopes.rend(); ++scope) {
      const auto found = (*scope)->find(first);
      if (found != (*scope)->end()) {
        value = &*found;
        break;
      }
    }
    for (std::size_t i = 1; value != nullptr && i < name.parts.size(); ++i) {
      if (!value->is_object()) {
        return nullptr;
      }
      const auto found = value->find(name.parts[i]);
      value = found == value->end() ? nullptr : &*found;
    }
    return value;
  }

  // Each partial is fetched and parsed once per render, whatever its indentation (that is
  // applied while rendering), and however often it is included.
  const Program* partial_program(const std::string& name) {
    const auto cached = m_partials.find(name);
    if (cached != m_partials.end()) {
      if (cached->second == nullptr && m_options.missing_partial == MissingPartial::error) {
        throw TemplateRenderError("unknown partial " + quoted(name));
      }
      return cached->second.get();
    }
    std::optional<std::string> source;
    if (m_options.partials) {
      source = m_options.partials(name);
    }
    std::unique_ptr<Program> program;
    if (source) {
      try {
        program = std::make_unique<Program>(detail::parse_program(*source));
      } catch (const TemplateSyntaxError& e) {
        throw TemplateRenderError("partial " + quoted(name) + " at " + std::to_string(e.line()) +
                                  ":" + std::to_string(e.column()) + ": " + e.problem());
      }
    }
    const Program* result = program.get();
    m_partials.emplace(name, std::move(program));
    if (result == nullptr && m_options.missing_partial == MissingPartial::error) {
      throw TemplateRenderError("unknown partial " + quoted(name));
    }
    return result;
  }

  const RenderOptions& m_options;
  std::vector<Frame> m_frames;
  std::vector<const json*> m_contexts; // the context stack; its top is "."
  std::vector<const json*> m_scopes;   // its objects: the only contexts a name can match
  std::vector<std::string> m_indents;  // one per open partial, plus the template's own ""
  std::unordered_map<std::string, std::unique_ptr<Program>> m_partials;
};

std::string position_message(std::size_t line, std::size_t column, const std::string& problem) {
  return std::to_string(line) + ":" + std::to_string(column) + ": " + problem;
}

} // namespace

TemplateSyntaxError::TemplateSyntaxError(std::size_t line, std::size_t column,
                                         const std::string& problem)
    : std::runtime_error(position_message(line, column, problem)), m_line(line), m_column(column),
      m_problem(problem) {}

struct Template::Impl {
  Program program;
};

Template::Template(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

Template Template::parse(std::string_view source) {
  auto impl = std::make_unique<Impl>();
  impl->program = detail::parse_program(source);
  return Template(std::move(impl));
}

std::string Template::render(const nlohmann::json& data, const RenderOptions& options) const {
  return Renderer(options).run(m_impl->program, data);
}

std::vector<std::string> Template::variables() const {
  return m_impl->program.variables;
}

std::vector<std::string> Template::partials() const {
  return m_impl->program.partials;
}

} // namespace promptops::mustache
