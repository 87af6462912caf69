#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// Mustache templates, true to the Mustache spec (interpolation, sections, inverted sections,
// comments, partials, set delimiters, standalone-line whitespace), rendering nlohmann::json
// data. Lambdas are not supported: data comes from JSON and YAML files.
namespace promptops::mustache {

// A template that does not parse. line and column (1-based; the column counts UTF-8 characters)
// point at the offending tag in the template text; what() reads "line:column: problem".
class TemplateSyntaxError : public std::runtime_error {
public:
  TemplateSyntaxError(std::size_t line, std::size_t column, const std::string& problem);
  std::size_t line() const noexcept { return m_line; }
  std::size_t column() const noexcept { return m_column; }
  const std::string& problem() const noexcept { return m_problem; }

private:
  std::size_t m_line;
  std::size_t m_column;
  std::string m_problem;
};

// A failure while rendering: an unknown partial, partials nested too deep.
class TemplateRenderError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// How {{name}} inserts a value. A prompt is not HTML, so the default inserts it as is (like
// {{{name}}}); Escape::html gives the spec's HTML escaping.
enum class Escape { none, html };

class Template;

// Returns the source of partial `name`, or std::nullopt if there is none.
using PartialSource = std::function<std::optional<std::string>(const std::string& name)>;

// What a partial that `partials` does not know renders as. The spec says the empty string;
// promptops makes it an error, since a prompt must not silently lose text.
enum class MissingPartial { error, empty };

struct RenderOptions {
  Escape escape = Escape::none;
  MissingPartial missing_partial = MissingPartial::error;
  PartialSource partials;             // may be empty: then every partial is unknown
  std::size_t max_partial_depth = 64; // guards against a partial including itself forever
};

class Template {
public:
  // Parse `source`. Throws TemplateSyntaxError for an unclosed tag or section, a closing tag
  // that matches no open section, an empty or invalid name, a bad set-delimiter tag, or
  // sections nested deeper than 512 levels.
  static Template parse(std::string_view source);

  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

  // Render with `data` as the root context. Throws TemplateRenderError for a partial that
  // `options.partials` does not know (unless MissingPartial::empty), a partial that does not
  // parse (the message names the partial, line and column) or recursion deeper than
  // max_partial_depth.
  // Values read: strings as they are, numbers as JSON writes them (85, 1.21), true and false
  // as words, null and missing names as nothing, objects and arrays as compact JSON. A section
  // is hidden for a missing name, null, false, "" and []; 0 and {} show it.
  std::string render(const nlohmann::json& data, const RenderOptions& options = {}) const;

  // The first segment of every name the template looks up ("customer" for
  // {{customer.name}}), in order of first use, without duplicates and without ".".
  std::vector<std::string> variables() const;

  // The names of the partials the template includes, in order of first use.
  std::vector<std::string> partials() const;

private:
  struct Impl;
  explicit Template(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace promptops::mustache
