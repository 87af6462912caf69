#pragma once

#include "registry/registry.hpp"
#include "util/line_diff.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

// A structural diff of two prompt versions (`promptops diff`): what changed in the fields that
// decide what is sent, what callers must now pass, then a unified line diff of every changed
// text. Pure: it reads nothing and prints nothing.
namespace promptops::registry {

// What happened to one thing between the two versions.
enum class Change { added, removed, changed };

// How much a change matters to the code that calls the prompt.
enum class Severity { info, warning, breaking };

// A scalar field on both sides; "" means the field is not set.
struct FieldChange {
  std::string before;
  std::string after;
};

// One value in a JSON document (params, metadata, an output schema) that was added, removed
// or changed. `pointer` is a JSON Pointer (RFC 6901) into the document: "/temperature" for a
// param, "/properties/category/enum" for a schema. The side that has no value is nullopt.
struct JsonChange {
  std::string pointer;
  Change change = Change::changed;
  std::optional<nlohmann::json> before;
  std::optional<nlohmann::json> after;
};

// One message of a chat prompt; a text prompt counts as one user message labelled "template",
// since that is how it is sent.
struct MessageSide {
  std::size_t index = 0; // 0-based position in its prompt
  std::string role;
  std::string label; // "messages[1]" or "template"
};

// A message added (only `after`), removed (only `before`) or changed (both). Messages are
// aligned by content and role, so inserting one does not make every later one "changed".
struct MessageChange {
  std::optional<MessageSide> before;
  std::optional<MessageSide> after;
  bool role_changed = false;
  bool content_changed = false;

  Change change() const {
    return !before ? Change::added : !after ? Change::removed : Change::changed;
  }
};

// A partial the prompt includes (directly or through other partials) on one side or both.
struct PartialChange {
  std::string name;
  Change change = Change::changed;
};

// How a prompt declares a variable under `input:`.
enum class Declaration { none, optional, required };

// A variable whose declaration changed or that the templates (with their partials) started or
// stopped looking up. A variable that is newly required is breaking for callers; one that is
// no longer declared or no longer used is a warning.
struct VariableChange {
  std::string name;
  Declaration before = Declaration::none;
  Declaration after = Declaration::none;
  bool used_before = false;
  bool used_after = false;
  Severity severity = Severity::info;
};

// A tool (under `tools:`) added, removed or changed, matched by name. A removed tool is
// breaking: code that expects the model to call it no longer gets the call. So is a
// parameters change that makes a property required: the code that runs the tool now gets an
// argument it may not handle, and a model may refuse to call it without one. Otherwise info.
struct ToolChange {
  std::string name;
  Change change = Change::changed;
  std::optional<FieldChange> description; // changed tools: "" = none
  // Changed tools: what changed in the parameters schema, at JSON Pointers into it.
  std::vector<JsonChange> parameters;
  // Changed tools: every property the parameters now require and did not before, as a JSON
  // Pointer to its schema ("/properties/email", "/properties/address/properties/zip").
  std::vector<std::string> new_required;
  Severity severity = Severity::info;
};

// The line diff's pieces, named here too: a prompt diff's texts are made of them.
using util::diff_lines;
using util::DiffLine;
using util::Hunk;

// The line diff of one text. A side that does not exist (an added message) is empty, with
// the label "/dev/null".
struct TextDiff {
  std::string label_before; // "support/classify@HEAD messages[1] (user)"
  std::string label_after;
  std::vector<Hunk> hunks;

  // The hunks as unified diff text, without the ---/+++ lines.
  std::string unified() const;
};

// One side of the comparison, as resolved.
struct PromptSide {
  std::string name;
  std::string ref; // "" = the work tree
  std::string version;
};

struct PromptDiff {
  PromptSide before;
  PromptSide after;
  std::optional<FieldChange> name; // the two sides are different prompts
  std::optional<FieldChange> description;
  std::optional<FieldChange> kind; // "chat" / "text"
  std::optional<FieldChange> provider;
  std::optional<FieldChange> model;
  std::optional<FieldChange> escape; // "none" / "html"
  std::vector<JsonChange> params;    // one per top-level key
  std::vector<MessageChange> messages;
  std::optional<FieldChange> output_schema; // its path
  bool output_schema_text_changed = false;  // its text, with or without a new path
  std::string output_schema_path;           // the path after, or before when it was removed
  // Where both sides have a schema that parses as JSON: what changed in it, at JSON Pointers.
  std::vector<JsonChange> output_schema_changes;
  std::vector<ToolChange> tools; // in name order
  std::vector<PartialChange> partials;
  std::vector<VariableChange> variables;
  std::vector<std::string> tags_added;
  std::vector<std::string> tags_removed;
  std::vector<JsonChange> metadata; // one per top-level key
  // The prompt files differ, but in nothing above (comments, formatting, the order of a
  // list): then `texts` holds the diff of the files themselves.
  bool only_file_layout_changed = false;
  // Line diffs: message contents (or the template), the prompt file (see above), partials,
  // the output schema's text; in that order.
  std::vector<TextDiff> texts;

  // True when the two sides are the same version of the same prompt.
  bool empty() const;
  // How many variable and tool changes have severity `severity`.
  std::size_t count(Severity severity) const;
};

// Compare prompt version `a` (before) with `b` (after). Never throws for any content: texts
// are compared as bytes.
PromptDiff diff_prompts(const ResolvedPrompt& a, const ResolvedPrompt& b);

// Whether format_diff writes ANSI colours.
enum class Color { no, yes };

// The diff for people: a header naming both sides, one line per structural change, a
// summary of breaking changes and warnings, then the text diffs. With Color::yes, removed
// lines are red, added lines green and headers bold (ANSI escapes).
std::string format_diff(const PromptDiff& diff, Color color);

// The diff as JSON for `--json`. Every key is always present; an unchanged field is null.
// Strings are dumped as they are: dump with error_handler_t::replace for arbitrary bytes.
nlohmann::ordered_json to_json(const PromptDiff& diff);

} // namespace promptops::registry
