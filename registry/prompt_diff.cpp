#include "registry/prompt_diff.hpp"

#include "util/json_pointer.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace promptops::registry {

namespace {

// ---------------------------------------------------------------------------------------
// JSON

nlohmann::ordered_json ordered(const nlohmann::json& j) {
  if (j.is_object()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (const auto& [key, value] : j.items()) {
      out[key] = ordered(value);
    }
    return out;
  }
  if (j.is_array()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& value : j) {
      out.push_back(ordered(value));
    }
    return out;
  }
  switch (j.type()) {
  case nlohmann::json::value_t::string:
    return j.get<std::string>();
  case nlohmann::json::value_t::boolean:
    return j.get<bool>();
  case nlohmann::json::value_t::number_integer:
    return j.get<std::int64_t>();
  case nlohmann::json::value_t::number_unsigned:
    return j.get<std::uint64_t>();
  case nlohmann::json::value_t::number_float:
    return j.get<double>();
  default:
    return nullptr;
  }
}

std::vector<std::string> union_keys(const nlohmann::json& a, const nlohmann::json& b) {
  std::set<std::string> keys;
  for (const auto* j : {&a, &b}) {
    if (j->is_object()) {
      for (const auto& [key, _] : j->items()) {
        keys.insert(key);
      }
    }
  }
  return {keys.begin(), keys.end()};
}

// Per top-level key, without looking inside the values (params, metadata).
std::vector<JsonChange> diff_keys(const nlohmann::json& a, const nlohmann::json& b) {
  std::vector<JsonChange> out;
  for (const auto& key : union_keys(a, b)) {
    const bool in_a = a.is_object() && a.contains(key);
    const bool in_b = b.is_object() && b.contains(key);
    const std::string pointer = util::pointer_append("", key);
    if (!in_b) {
      out.push_back({pointer, Change::removed, a.at(key), std::nullopt});
    } else if (!in_a) {
      out.push_back({pointer, Change::added, std::nullopt, b.at(key)});
    } else if (a.at(key) != b.at(key)) {
      out.push_back({pointer, Change::changed, a.at(key), b.at(key)});
    }
  }
  return out;
}

// Objects key by key, arrays of the same length item by item; anything else that differs
// (a value, a type, an array that grew or shrank) is one change at its pointer.
void diff_json(const nlohmann::json& a, const nlohmann::json& b, const std::string& pointer,
               std::vector<JsonChange>& out) {
  if (a == b) {
    return;
  }
  if (a.is_object() && b.is_object()) {
    for (const auto& key : union_keys(a, b)) {
      const std::string inner = util::pointer_append(pointer, key);
      if (!b.contains(key)) {
        out.push_back({inner, Change::removed, a.at(key), std::nullopt});
      } else if (!a.contains(key)) {
        out.push_back({inner, Change::added, std::nullopt, b.at(key)});
      } else {
        diff_json(a.at(key), b.at(key), inner, out);
      }
    }
    return;
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      diff_json(a[i], b[i], util::pointer_append(pointer, i), out);
    }
    return;
  }
  out.push_back({pointer, Change::changed, a, b});
}

// Every property `b` requires and `a` did not at the same place, as a pointer to its schema.
// Only into subschemas that both sides have: a new optional property's own required list asks
// nothing of a caller that does not send it (and a new required one is caught above it).
void find_new_required(const nlohmann::json& a, const nlohmann::json& b, const std::string& pointer,
                       std::vector<std::string>& out) {
  if (b.is_array() && a.is_array()) {
    for (std::size_t i = 0; i < b.size() && i < a.size(); ++i) {
      find_new_required(a[i], b[i], util::pointer_append(pointer, i), out);
    }
    return;
  }
  if (!b.is_object() || !a.is_object()) {
    return;
  }
  if (auto it = b.find("required"); it != b.end() && it->is_array()) {
    const auto before = a.find("required");
    const bool had_list = before != a.end() && before->is_array();
    for (const auto& name : *it) {
      if (name.is_string() &&
          (!had_list || std::find(before->begin(), before->end(), name) == before->end())) {
        out.push_back(util::pointer_append(util::pointer_append(pointer, "properties"),
                                           name.get<std::string>()));
      }
    }
  }
  for (const auto& [key, value] : b.items()) {
    if (key != "required" && (value.is_object() || value.is_array()) && a.contains(key)) {
      find_new_required(a.at(key), value, util::pointer_append(pointer, key), out);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Messages

std::string side_name(const PromptSide& side) {
  return side.ref.empty() ? side.name : side.name + "@" + side.ref;
}

struct MessageView {
  MessageSide side;
  const std::string* content;
};

std::vector<MessageView> message_views(const Prompt& p) {
  std::vector<MessageView> out;
  if (p.kind == PromptKind::text) {
    out.push_back({{0, "user", "template"}, &p.text_source});
    return out;
  }
  for (std::size_t i = 0; i < p.messages.size(); ++i) {
    out.push_back(
        {{i, p.messages[i].role, "messages[" + std::to_string(i) + "]"}, &p.messages[i].content});
  }
  return out;
}

// The alignment of two message lists that pairs the most alike: an identical message scores
// 4, one that kept its role or its content 2; messages that share neither are never paired
// (they are a removal and an addition).
std::vector<MessageChange> align_messages(const std::vector<MessageView>& a,
                                          const std::vector<MessageView>& b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  constexpr int k_never = -1;
  auto score = [&](std::size_t i, std::size_t j) {
    const bool same_role = a[i].side.role == b[j].side.role;
    const bool same_content = *a[i].content == *b[j].content;
    return same_role && same_content ? 4 : same_role || same_content ? 2 : k_never;
  };
  std::vector<MessageChange> out;
  auto pair = [&](std::size_t i, std::size_t j) {
    MessageChange c{a[i].side, b[j].side, a[i].side.role != b[j].side.role,
                    *a[i].content != *b[j].content};
    if (c.role_changed || c.content_changed) {
      out.push_back(std::move(c));
    }
  };
  auto removed = [&](std::size_t i) { out.push_back({a[i].side, std::nullopt, false, true}); };
  auto added = [&](std::size_t j) { out.push_back({std::nullopt, b[j].side, false, true}); };

  // A prompt has a handful of messages; past a million cells, align by position instead.
  if (n * m > 1'000'000) {
    for (std::size_t i = 0; i < std::max(n, m); ++i) {
      if (i < n && i < m && score(i, i) != k_never) {
        pair(i, i);
      } else {
        if (i < n) {
          removed(i);
        }
        if (i < m) {
          added(i);
        }
      }
    }
    return out;
  }
  // best[i][j]: the best score aligning a[i..] with b[j..].
  std::vector<std::vector<int>> best(n + 1, std::vector<int>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      int v = std::max(best[i + 1][j], best[i][j + 1]);
      if (const int s = score(i, j); s != k_never) {
        v = std::max(v, s + best[i + 1][j + 1]);
      }
      best[i][j] = v;
    }
  }
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && score(i, j) != k_never &&
        best[i][j] == score(i, j) + best[i + 1][j + 1]) {
      pair(i++, j++);
    } else if (i < n && (j == m || best[i][j] == best[i + 1][j])) {
      removed(i++);
    } else {
      added(j++);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Variables

std::set<std::string> used_variables(const ResolvedPrompt& r) {
  std::set<std::string> used;
  for (const auto& v : r.prompt.template_variables()) {
    used.insert(v);
  }
  for (const auto& [name, text] : r.partials) {
    try {
      for (const auto& v : mustache::Template::parse(text).variables()) {
        used.insert(v);
      }
    } catch (const mustache::TemplateSyntaxError&) {
      // resolve_prompt has parsed every partial; one that fails here names nothing.
    }
  }
  return used;
}

std::map<std::string, Declaration> declarations(const Prompt& p) {
  std::map<std::string, Declaration> out;
  for (const auto& v : p.optional) {
    out[v.name] = Declaration::optional;
  }
  for (const auto& v : p.required) {
    out[v.name] = Declaration::required;
  }
  return out;
}

std::vector<VariableChange> diff_variables(const ResolvedPrompt& a, const ResolvedPrompt& b) {
  const auto declared_a = declarations(a.prompt);
  const auto declared_b = declarations(b.prompt);
  const auto used_a = used_variables(a);
  const auto used_b = used_variables(b);
  std::set<std::string> names(used_a.begin(), used_a.end());
  names.insert(used_b.begin(), used_b.end());
  for (const auto* declared : {&declared_a, &declared_b}) {
    for (const auto& [name, _] : *declared) {
      names.insert(name);
    }
  }
  auto lookup = [](const std::map<std::string, Declaration>& m, const std::string& name) {
    const auto it = m.find(name);
    return it == m.end() ? Declaration::none : it->second;
  };
  std::vector<VariableChange> out;
  for (const auto& name : names) {
    VariableChange c{name,
                     lookup(declared_a, name),
                     lookup(declared_b, name),
                     used_a.count(name) != 0,
                     used_b.count(name) != 0,
                     Severity::info};
    if (c.before == c.after && c.used_before == c.used_after) {
      continue;
    }
    if (c.after == Declaration::required && c.before != Declaration::required) {
      c.severity = Severity::breaking; // callers that do not pass it now fail
    } else if ((c.before != Declaration::none && c.after == Declaration::none) ||
               (c.used_before && !c.used_after)) {
      c.severity = Severity::warning; // callers that pass it are silently ignored
    }
    out.push_back(std::move(c));
  }
  return out;
}

// ---------------------------------------------------------------------------------------

void set_if_changed(std::optional<FieldChange>& field, const std::string& a, const std::string& b) {
  if (a != b) {
    field = FieldChange{a, b};
  }
}

std::map<std::string, const nlohmann::json*> tools_by_name(const Prompt& p) {
  std::map<std::string, const nlohmann::json*> out;
  if (p.tools) {
    for (const auto& t : *p.tools) {
      out.emplace(t.value("name", ""), &t);
    }
  }
  return out;
}

std::vector<ToolChange> diff_tools(const Prompt& a, const Prompt& b) {
  const auto tools_a = tools_by_name(a);
  const auto tools_b = tools_by_name(b);
  std::set<std::string> names;
  for (const auto* tools : {&tools_a, &tools_b}) {
    for (const auto& [name, _] : *tools) {
      names.insert(name);
    }
  }
  const nlohmann::json none = nlohmann::json::object();
  std::vector<ToolChange> out;
  for (const auto& name : names) {
    const auto ia = tools_a.find(name);
    const auto ib = tools_b.find(name);
    ToolChange c;
    c.name = name;
    if (ib == tools_b.end()) {
      c.change = Change::removed;
      c.severity = Severity::breaking; // code that expects the call no longer gets it
    } else if (ia == tools_a.end()) {
      c.change = Change::added;
    } else if (*ia->second != *ib->second) {
      const nlohmann::json& ta = *ia->second;
      const nlohmann::json& tb = *ib->second;
      set_if_changed(c.description, ta.value("description", ""), tb.value("description", ""));
      const auto& pa = ta.contains("parameters") ? ta.at("parameters") : none;
      const auto& pb = tb.contains("parameters") ? tb.at("parameters") : none;
      diff_json(pa, pb, "", c.parameters);
      find_new_required(pa, pb, "", c.new_required);
      if (!c.new_required.empty()) {
        c.severity = Severity::breaking;
      }
    } else {
      continue;
    }
    out.push_back(std::move(c));
  }
  return out;
}

// The partials either side includes that differ, in name order, and their line diffs.
std::vector<TextDiff> diff_partials(const ResolvedPrompt& a, const ResolvedPrompt& b,
                                    const std::string& name_a, const std::string& name_b,
                                    std::vector<PartialChange>& changes) {
  const std::string null_label = "/dev/null";
  std::set<std::string> partial_names;
  for (const auto* partials : {&a.partials, &b.partials}) {
    for (const auto& [name, _] : *partials) {
      partial_names.insert(name);
    }
  }
  std::vector<TextDiff> partial_texts;
  for (const auto& name : partial_names) {
    const auto ia = a.partials.find(name);
    const auto ib = b.partials.find(name);
    const bool in_a = ia != a.partials.end();
    const bool in_b = ib != b.partials.end();
    if (in_a && in_b && ia->second == ib->second) {
      continue;
    }
    changes.push_back({name, !in_a ? Change::added : !in_b ? Change::removed : Change::changed});
    auto hunks = util::diff_lines(in_a ? ia->second : "", in_b ? ib->second : "");
    if (!hunks.empty()) {
      const std::string path = partial_path(name);
      auto label = [&](bool present, const std::string& side) {
        std::string out = present ? side : null_label;
        if (present) {
          out += ' ';
          out += path;
        }
        return out;
      };
      partial_texts.push_back({label(in_a, name_a), label(in_b, name_b), std::move(hunks)});
    }
  }
  return partial_texts;
}

const char* kind_name(PromptKind kind) {
  return kind == PromptKind::chat ? "chat" : "text";
}

const char* escape_name(mustache::Escape escape) {
  return escape == mustache::Escape::html ? "html" : "none";
}

std::vector<std::string> tag_list(const nlohmann::json& tags) {
  std::vector<std::string> out;
  if (tags.is_array()) {
    for (const auto& t : tags) {
      out.push_back(t.is_string() ? t.get<std::string>() : t.dump());
    }
  }
  return out;
}

std::vector<std::string> missing_from(const std::vector<std::string>& from,
                                      const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& t : from) {
    if (std::find(in.begin(), in.end(), t) == in.end() &&
        std::find(out.begin(), out.end(), t) == out.end()) {
      out.push_back(t);
    }
  }
  return out;
}

} // namespace

// ---------------------------------------------------------------------------------------

std::string TextDiff::unified() const {
  return util::unified(hunks);
}

bool PromptDiff::empty() const {
  return !name && !description && !kind && !provider && !model && !escape && params.empty() &&
         messages.empty() && !output_schema && !output_schema_text_changed &&
         output_schema_changes.empty() && tools.empty() && partials.empty() && variables.empty() &&
         tags_added.empty() && tags_removed.empty() && metadata.empty() &&
         !only_file_layout_changed && texts.empty();
}

std::size_t PromptDiff::count(Severity severity) const {
  return static_cast<std::size_t>(
      std::count_if(variables.begin(), variables.end(),
                    [&](const VariableChange& v) { return v.severity == severity; }) +
      std::count_if(tools.begin(), tools.end(),
                    [&](const ToolChange& t) { return t.severity == severity; }));
}

PromptDiff diff_prompts(const ResolvedPrompt& a, const ResolvedPrompt& b) {
  const Prompt& pa = a.prompt;
  const Prompt& pb = b.prompt;
  PromptDiff d;
  d.before = {pa.name, a.ref, a.version};
  d.after = {pb.name, b.ref, b.version};
  const std::string name_a = side_name(d.before);
  const std::string name_b = side_name(d.after);
  const std::string null_label = "/dev/null";

  set_if_changed(d.name, pa.name, pb.name);
  set_if_changed(d.description, pa.description, pb.description);
  set_if_changed(d.kind, kind_name(pa.kind), kind_name(pb.kind));
  set_if_changed(d.provider, pa.provider, pb.provider);
  set_if_changed(d.model, pa.model, pb.model);
  set_if_changed(d.escape, escape_name(pa.escape), escape_name(pb.escape));
  d.params = diff_keys(pa.params, pb.params);
  d.metadata = diff_keys(pa.metadata, pb.metadata);
  const auto tags_a = tag_list(pa.tags);
  const auto tags_b = tag_list(pb.tags);
  d.tags_added = missing_from(tags_b, tags_a);
  d.tags_removed = missing_from(tags_a, tags_b);

  // Messages, and the diff of every message text that changed.
  const auto views_a = message_views(pa);
  const auto views_b = message_views(pb);
  d.messages = align_messages(views_a, views_b);
  auto message_label = [](const std::string& prompt, const MessageSide& side) {
    return prompt + " " +
           (side.label == "template" ? side.label : side.label + " (" + side.role + ")");
  };
  for (const auto& m : d.messages) {
    if (!m.content_changed) {
      continue;
    }
    const std::string& before = m.before ? *views_a[m.before->index].content : std::string();
    const std::string& after = m.after ? *views_b[m.after->index].content : std::string();
    auto hunks = util::diff_lines(before, after);
    if (!hunks.empty()) {
      d.texts.push_back({m.before ? message_label(name_a, *m.before) : null_label,
                         m.after ? message_label(name_b, *m.after) : null_label, std::move(hunks)});
    }
  }

  d.variables = diff_variables(a, b);

  // Output schema: its path, then its content.
  set_if_changed(d.output_schema, pa.output_schema, pb.output_schema);
  const std::string schema_a = a.output_schema.value_or("");
  const std::string schema_b = b.output_schema.value_or("");
  d.output_schema_text_changed =
      a.output_schema.has_value() != b.output_schema.has_value() || schema_a != schema_b;
  d.output_schema_path = pb.output_schema.empty() ? pa.output_schema : pb.output_schema;
  if (a.output_schema && b.output_schema && schema_a != schema_b) {
    const auto json_a = nlohmann::json::parse(schema_a, nullptr, false);
    const auto json_b = nlohmann::json::parse(schema_b, nullptr, false);
    if (!json_a.is_discarded() && !json_b.is_discarded()) {
      diff_json(json_a, json_b, "", d.output_schema_changes);
    }
  }

  d.tools = diff_tools(pa, pb);

  // Partials, in name order; their text diffs go after the prompt file's.
  std::vector<TextDiff> partial_texts = diff_partials(a, b, name_a, name_b, d.partials);

  // A prompt file that changed in nothing the fields above show (a comment, the layout, the
  // order of a list) still changed the version: show the files themselves.
  bool declarations_changed = false;
  for (const auto& v : d.variables) {
    declarations_changed = declarations_changed || v.before != v.after;
  }
  if (pa.file_content != pb.file_content && !d.description && !d.kind && !d.provider && !d.model &&
      !d.escape && d.params.empty() && d.messages.empty() && !d.output_schema &&
      !declarations_changed && d.tools.empty() && d.tags_added.empty() && d.tags_removed.empty() &&
      d.metadata.empty()) {
    d.only_file_layout_changed = true;
    auto hunks = util::diff_lines(pa.file_content, pb.file_content);
    if (!hunks.empty()) {
      d.texts.push_back({name_a + " " + pa.path, name_b + " " + pb.path, std::move(hunks)});
    }
  }
  for (auto& t : partial_texts) {
    d.texts.push_back(std::move(t));
  }
  if (d.output_schema_text_changed) {
    auto hunks = util::diff_lines(schema_a, schema_b);
    if (!hunks.empty()) {
      d.texts.push_back({a.output_schema ? name_a + " " + pa.output_schema : null_label,
                         b.output_schema ? name_b + " " + pb.output_schema : null_label,
                         std::move(hunks)});
    }
  }
  return d;
}

// ---------------------------------------------------------------------------------------
// Terminal

namespace {

class Painter {
public:
  explicit Painter(Color color) : m_on(color == Color::yes) {}
  std::string paint(const char* code, const std::string& text) const {
    return m_on ? std::string(code) + text + "\x1b[0m" : text;
  }
  std::string bold(const std::string& text) const { return paint("\x1b[1m", text); }
  std::string red(const std::string& text) const { return paint("\x1b[31m", text); }
  std::string green(const std::string& text) const { return paint("\x1b[32m", text); }
  std::string cyan(const std::string& text) const { return paint("\x1b[36m", text); }
  std::string yellow(const std::string& text) const { return paint("\x1b[33m", text); }
  std::string bold_red(const std::string& text) const { return paint("\x1b[1;31m", text); }

  // A structural line by its marker: '+' green, '-' red, '~' as is.
  std::string marked(char marker, const std::string& text) const {
    const std::string line = std::string("  ") + marker + " " + text;
    return marker == '+' ? green(line) : marker == '-' ? red(line) : line;
  }

private:
  bool m_on;
};

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A value on one line, cut at 72 bytes (on a UTF-8 character boundary): the full values are
// in the text diff and in --json.
std::string short_value(const nlohmann::json& j) {
  std::string s = dump(j);
  constexpr std::size_t k_max = 72;
  if (s.size() <= k_max) {
    return s;
  }
  std::size_t cut = k_max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return s.substr(0, cut) + "...";
}

std::string quoted_or_none(const std::string& s) {
  return s.empty() ? "(none)" : dump(nlohmann::json(s));
}

std::string pointer_display(const std::string& pointer) {
  return pointer.empty() ? "(root)" : pointer;
}

std::string json_change_line(const Painter& p, const JsonChange& c, const std::string& name) {
  switch (c.change) {
  case Change::added:
    return p.marked('+', name + ": " + short_value(*c.after));
  case Change::removed:
    return p.marked('-', name + ": " + short_value(*c.before));
  case Change::changed:
    break;
  }
  return p.marked('~', name + ": " + short_value(*c.before) + " -> " + short_value(*c.after));
}

const char* declaration_name(Declaration d) {
  switch (d) {
  case Declaration::required:
    return "required";
  case Declaration::optional:
    return "optional";
  case Declaration::none:
    break;
  }
  return "undeclared";
}

std::string describe(const VariableChange& v) {
  std::vector<std::string> parts;
  if (v.before == Declaration::none && v.after != Declaration::none) {
    parts.push_back(std::string("new ") + declaration_name(v.after) + " variable");
  } else if (v.before != Declaration::none && v.after == Declaration::none) {
    parts.push_back(std::string(declaration_name(v.before)) + " variable removed");
  } else if (v.before != v.after) {
    parts.push_back(std::string(declaration_name(v.before)) + " -> " + declaration_name(v.after));
  }
  if (v.used_after && !v.used_before) {
    parts.push_back(v.after == Declaration::none ? "the templates now use it (undeclared)"
                                                 : "the templates now use it");
  } else if (v.used_before && !v.used_after) {
    parts.push_back("the templates no longer use it");
  }
  std::string out;
  for (const auto& part : parts) {
    out += (out.empty() ? "" : "; ") + part;
  }
  return out;
}

// By the declaration when it changed (added, removed, changed), else by the use.
char variable_marker(const VariableChange& v) {
  if (v.before == v.after) {
    return v.used_after ? '+' : '-';
  }
  return v.before == Declaration::none ? '+' : v.after == Declaration::none ? '-' : '~';
}

std::string message_name(const MessageSide& side) {
  return side.label == "template" ? side.label : side.label + " (" + side.role + ")";
}

std::string message_line(const Painter& p, const MessageChange& m) {
  if (!m.before) {
    return p.marked('+', message_name(*m.after));
  }
  if (!m.after) {
    return p.marked('-', message_name(*m.before));
  }
  std::string where = m.before->label == m.after->label ? m.before->label
                                                        : m.before->label + " -> " + m.after->label;
  std::string what;
  if (m.role_changed) {
    what = "role " + m.before->role + " -> " + m.after->role;
  } else if (m.before->label != "template" && m.after->label != "template") {
    where += " (" + m.after->role + ")";
  }
  if (m.content_changed) {
    what += (what.empty() ? "" : ", ") + std::string("content changed");
  }
  return p.marked('~', where + ": " + what);
}

std::string plural(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void add_line(std::string& out, const std::string& text) {
  out += text;
  out += '\n';
}

// The scalar fields, then params and messages.
void format_fields(std::string& out, const Painter& p, const PromptDiff& diff) {
  auto field = [&](const char* key, const std::optional<FieldChange>& f, bool quote) {
    if (f) {
      add_line(out, std::string(key) + ": " + (quote ? quoted_or_none(f->before) : f->before) +
                        " -> " + (quote ? quoted_or_none(f->after) : f->after));
    }
  };
  field("name", diff.name, true);
  field("description", diff.description, true);
  field("kind", diff.kind, false);
  field("provider", diff.provider, true);
  field("model", diff.model, true);
  field("escape", diff.escape, false);
  if (!diff.params.empty()) {
    add_line(out, p.bold("params:"));
    for (const auto& c : diff.params) {
      add_line(out, json_change_line(p, c, util::pointer_last_token(c.pointer)));
    }
  }
  if (!diff.messages.empty()) {
    add_line(out, p.bold("messages:"));
    for (const auto& m : diff.messages) {
      add_line(out, message_line(p, m));
    }
  }
}

void format_output_schema(std::string& out, const Painter& p, const PromptDiff& diff) {
  if (diff.output_schema) {
    add_line(out, p.bold("output schema:") + " " + quoted_or_none(diff.output_schema->before) +
                      " -> " + quoted_or_none(diff.output_schema->after));
  } else if (diff.output_schema_text_changed) {
    add_line(out, p.bold("output schema " + quoted_or_none(diff.output_schema_path) + ":"));
  }
  for (const auto& c : diff.output_schema_changes) {
    add_line(out, json_change_line(p, c, pointer_display(c.pointer)));
  }
  if (!diff.output_schema && diff.output_schema_text_changed &&
      diff.output_schema_changes.empty()) {
    add_line(out, "  (formatting only)");
  }
}

std::string severity_tag(const Painter& p, Severity severity) {
  return severity == Severity::breaking  ? " " + p.bold_red("[BREAKING]")
         : severity == Severity::warning ? " " + p.yellow("[warning]")
                                         : "";
}

// One line per tool added or removed; a changed one with its changes indented below it.
void format_tools(std::string& out, const Painter& p, const PromptDiff& diff) {
  if (diff.tools.empty()) {
    return;
  }
  add_line(out, p.bold("tools:"));
  for (const auto& t : diff.tools) {
    const char marker = t.change == Change::added ? '+' : t.change == Change::removed ? '-' : '~';
    add_line(out, p.marked(marker, t.name) + severity_tag(p, t.severity));
    // Indented under the tool's line.
    if (t.description) {
      add_line(out, "      description: " + quoted_or_none(t.description->before) + " -> " +
                        quoted_or_none(t.description->after));
    }
    for (const auto& c : t.parameters) {
      std::string line = "    ";
      line += json_change_line(p, c, "parameters " + pointer_display(c.pointer));
      add_line(out, line);
    }
    for (const auto& r : t.new_required) {
      std::string line = "      newly required: parameters ";
      line += r;
      add_line(out, line);
    }
  }
}

// Partials, variables (with their severity), tags and metadata.
void format_uses(std::string& out, const Painter& p, const PromptDiff& diff) {
  if (!diff.partials.empty()) {
    add_line(out, p.bold("partials:"));
    for (const auto& c : diff.partials) {
      add_line(out, p.marked(c.change == Change::added     ? '+'
                             : c.change == Change::removed ? '-'
                                                           : '~',
                             c.name));
    }
  }
  if (!diff.variables.empty()) {
    add_line(out, p.bold("variables:"));
    for (const auto& v : diff.variables) {
      add_line(out, p.marked(variable_marker(v), v.name + ": " + describe(v)) +
                        severity_tag(p, v.severity));
    }
  }
  if (!diff.tags_added.empty() || !diff.tags_removed.empty()) {
    add_line(out, p.bold("tags:"));
    for (const auto& t : diff.tags_added) {
      add_line(out, p.marked('+', dump(nlohmann::json(t))));
    }
    for (const auto& t : diff.tags_removed) {
      add_line(out, p.marked('-', dump(nlohmann::json(t))));
    }
  }
  if (!diff.metadata.empty()) {
    add_line(out, p.bold("metadata:"));
    for (const auto& c : diff.metadata) {
      add_line(out, json_change_line(p, c, util::pointer_last_token(c.pointer)));
    }
  }
}

// "1 breaking change for callers, 2 warnings"; nothing when there are neither.
void format_summary(std::string& out, const Painter& p, const PromptDiff& diff) {
  const std::size_t breaking = diff.count(Severity::breaking);
  const std::size_t warnings = diff.count(Severity::warning);
  if (breaking == 0 && warnings == 0) {
    return;
  }
  std::string summary;
  if (breaking > 0) {
    summary = p.bold_red(plural(breaking, "breaking change", "breaking changes") + " for callers");
  }
  if (warnings > 0) {
    summary += (summary.empty() ? "" : ", ") + p.yellow(plural(warnings, "warning", "warnings"));
  }
  add_line(out, summary);
}

// The line diffs, after a blank line.
void format_texts(std::string& out, const Painter& p, const PromptDiff& diff) {
  for (std::size_t i = 0; i < diff.texts.size(); ++i) {
    const auto& t = diff.texts[i];
    if (i == 0) {
      add_line(out, "");
    }
    add_line(out, p.bold("--- " + t.label_before));
    add_line(out, p.bold("+++ " + t.label_after));
    for (const auto& h : t.hunks) {
      add_line(out, p.cyan(h.header()));
      for (const auto& l : h.lines) {
        const std::string text = std::string(1, l.op) + l.text;
        add_line(out, l.op == '-' ? p.red(text) : l.op == '+' ? p.green(text) : text);
        if (l.no_newline) {
          add_line(out, "\\ No newline at end of file");
        }
      }
    }
  }
}

} // namespace

std::string format_diff(const PromptDiff& diff, Color color) {
  const Painter p(color);
  const std::string name_a = side_name(diff.before);
  const std::string name_b = side_name(diff.after);
  const std::string short_a = diff.before.version.substr(0, 12);
  const std::string short_b = diff.after.version.substr(0, 12);
  if (diff.empty()) {
    return "no differences: " + name_a + " and " + name_b + " are the same version (" + short_a +
           ")\n";
  }
  std::string out;
  add_line(out,
           p.bold("diff " + name_a + " (" + short_a + ") -> " + name_b + " (" + short_b + ")"));
  format_fields(out, p, diff);
  format_output_schema(out, p, diff);
  format_tools(out, p, diff);
  format_uses(out, p, diff);
  if (diff.only_file_layout_changed) {
    add_line(out, "prompt file: only comments, formatting or order changed");
  }
  format_summary(out, p, diff);
  format_texts(out, p, diff);
  return out;
}

// ---------------------------------------------------------------------------------------
// JSON

namespace {

const char* change_name(Change c) {
  switch (c) {
  case Change::added:
    return "added";
  case Change::removed:
    return "removed";
  case Change::changed:
    break;
  }
  return "changed";
}

const char* severity_name(Severity s) {
  switch (s) {
  case Severity::breaking:
    return "breaking";
  case Severity::warning:
    return "warning";
  case Severity::info:
    break;
  }
  return "info";
}

nlohmann::ordered_json or_null(const std::string& s) {
  return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
}

nlohmann::ordered_json field_json(const std::optional<FieldChange>& f) {
  if (!f) {
    return nullptr;
  }
  return {{"before", or_null(f->before)}, {"after", or_null(f->after)}};
}

nlohmann::ordered_json json_changes(const std::vector<JsonChange>& changes, const char* key) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& c : changes) {
    nlohmann::ordered_json j;
    j[key] = std::string(key) == "key" ? util::pointer_last_token(c.pointer) : c.pointer;
    j["change"] = change_name(c.change);
    if (c.before) {
      j["before"] = ordered(*c.before);
    }
    if (c.after) {
      j["after"] = ordered(*c.after);
    }
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::ordered_json side_json(const std::optional<MessageSide>& side) {
  if (!side) {
    return nullptr;
  }
  return {{"index", side->index}, {"role", side->role}, {"label", side->label}};
}

nlohmann::ordered_json declaration_json(Declaration d) {
  return d == Declaration::none ? nlohmann::ordered_json(nullptr)
                                : nlohmann::ordered_json(declaration_name(d));
}

} // namespace

nlohmann::ordered_json to_json(const PromptDiff& diff) {
  nlohmann::ordered_json j;
  for (const auto& [key, side] : {std::pair{"before", &diff.before}, {"after", &diff.after}}) {
    j[key] = {{"name", side->name}, {"ref", or_null(side->ref)}, {"version", side->version}};
  }
  j["identical"] = diff.empty();
  j["breaking"] = diff.count(Severity::breaking);
  j["warnings"] = diff.count(Severity::warning);
  j["name"] = field_json(diff.name);
  j["description"] = field_json(diff.description);
  j["kind"] = field_json(diff.kind);
  j["provider"] = field_json(diff.provider);
  j["model"] = field_json(diff.model);
  j["escape"] = field_json(diff.escape);
  j["params"] = json_changes(diff.params, "key");
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (const auto& m : diff.messages) {
    messages.push_back({{"change", change_name(m.change())},
                        {"before", side_json(m.before)},
                        {"after", side_json(m.after)},
                        {"role_changed", m.role_changed},
                        {"content_changed", m.content_changed}});
  }
  j["messages"] = messages;
  j["output_schema"] = {{"path", field_json(diff.output_schema)},
                        {"text_changed", diff.output_schema_text_changed},
                        {"changes", json_changes(diff.output_schema_changes, "pointer")}};
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();
  for (const auto& t : diff.tools) {
    tools.push_back({{"name", t.name},
                     {"change", change_name(t.change)},
                     {"description", field_json(t.description)},
                     {"parameters", json_changes(t.parameters, "pointer")},
                     {"new_required", t.new_required},
                     {"severity", severity_name(t.severity)}});
  }
  j["tools"] = tools;
  nlohmann::ordered_json partials = nlohmann::ordered_json::array();
  for (const auto& c : diff.partials) {
    partials.push_back({{"name", c.name}, {"change", change_name(c.change)}});
  }
  j["partials"] = partials;
  nlohmann::ordered_json variables = nlohmann::ordered_json::array();
  for (const auto& v : diff.variables) {
    variables.push_back({{"name", v.name},
                         {"before", declaration_json(v.before)},
                         {"after", declaration_json(v.after)},
                         {"used_before", v.used_before},
                         {"used_after", v.used_after},
                         {"severity", severity_name(v.severity)}});
  }
  j["variables"] = variables;
  j["tags"] = {{"added", diff.tags_added}, {"removed", diff.tags_removed}};
  j["metadata"] = json_changes(diff.metadata, "key");
  j["file_layout_only"] = diff.only_file_layout_changed;
  nlohmann::ordered_json texts = nlohmann::ordered_json::array();
  for (const auto& t : diff.texts) {
    texts.push_back({{"before", t.label_before}, {"after", t.label_after}, {"diff", t.unified()}});
  }
  j["texts"] = texts;
  return j;
}

} // namespace promptops::registry
