#include "jsonschema/json_value.hpp"
#include "jsonschema/metaschemas.hpp"
#include "jsonschema/schema_node.hpp"
#include "jsonschema/uri.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace promptops::jsonschema::detail {

namespace {

using nlohmann::json;

enum VocabularyBit : unsigned {
  k_vocab_core = 1U << 0U,
  k_vocab_applicator = 1U << 1U,
  k_vocab_unevaluated = 1U << 2U,
  k_vocab_validation = 1U << 3U,
  k_vocab_meta_data = 1U << 4U,
  k_vocab_format_annotation = 1U << 5U,
  k_vocab_format_assertion = 1U << 6U,
  k_vocab_content = 1U << 7U,
};

constexpr unsigned k_vocab_all = 0xFFU & ~static_cast<unsigned>(k_vocab_format_assertion);

constexpr std::string_view k_draft7_uri = "http://json-schema.org/draft-07/schema";
constexpr std::string_view k_draft2020_uri = "https://json-schema.org/draft/2020-12/schema";

constexpr std::array<std::pair<std::string_view, VocabularyBit>, 8> k_vocabularies{{
    {"https://json-schema.org/draft/2020-12/vocab/core", k_vocab_core},
    {"https://json-schema.org/draft/2020-12/vocab/applicator", k_vocab_applicator},
    {"https://json-schema.org/draft/2020-12/vocab/unevaluated", k_vocab_unevaluated},
    {"https://json-schema.org/draft/2020-12/vocab/validation", k_vocab_validation},
    {"https://json-schema.org/draft/2020-12/vocab/meta-data", k_vocab_meta_data},
    {"https://json-schema.org/draft/2020-12/vocab/format-annotation", k_vocab_format_annotation},
    {"https://json-schema.org/draft/2020-12/vocab/format-assertion", k_vocab_format_assertion},
    {"https://json-schema.org/draft/2020-12/vocab/content", k_vocab_content},
}};

constexpr std::array<std::pair<std::string_view, TypeBit>, 7> k_type_names{{
    {"null", k_type_null},
    {"boolean", k_type_boolean},
    {"object", k_type_object},
    {"array", k_type_array},
    {"number", k_type_number},
    {"string", k_type_string},
    {"integer", k_type_integer},
}};

// Keywords whose value is one subschema, an array of subschemas or an object of subschemas,
// per draft. Only these are walked for "$id" and anchors: an "$id" inside "enum" or an
// unknown keyword is not an identifier.
struct SubschemaKeywords {
  std::vector<std::string_view> single;
  std::vector<std::string_view> arrays;
  std::vector<std::string_view> maps;
};

const SubschemaKeywords& subschema_keywords(Draft draft) {
  static const SubschemaKeywords k_draft7{
      {"additionalItems", "additionalProperties", "contains", "else", "if", "items", "not",
       "propertyNames", "then"},
      {"allOf", "anyOf", "oneOf", "items"},
      {"definitions", "properties", "patternProperties", "dependencies"}};
  static const SubschemaKeywords k_draft2020{
      {"additionalProperties", "contains", "contentSchema", "else", "if", "items", "not",
       "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties"},
      {"allOf", "anyOf", "oneOf", "prefixItems"},
      {"$defs", "properties", "patternProperties", "dependentSchemas", "dependencies"}};
  return draft == Draft::draft7 ? k_draft7 : k_draft2020;
}

struct Dialect {
  Draft draft = Draft::draft2020_12;
  unsigned vocabularies = k_vocab_all;
};

struct Location {
  std::size_t doc = 0;
  std::string pointer;
};

struct LocationInfo {
  std::string base_uri;
  Dialect dialect;
  Resource* resource = nullptr;
};

struct Document {
  std::string uri;
  json root;
};

struct PendingNode {
  Node* node;
  const json* value;
  std::size_t doc;
  std::string pointer;
  LocationInfo info;
};

struct PendingAnchor {
  Resource* resource;
  std::string name;
  Location location;
};

using LocationKey = std::pair<std::size_t, std::string>;

[[noreturn]] void invalid(std::string_view location, std::string_view problem) {
  throw SchemaError("invalid schema at " + quote(location) + ": " + std::string(problem));
}

const json* find_member(const json& object, std::string_view name) {
  const auto& members = object.get_ref<const json::object_t&>();
  const auto it = members.find(name);
  return it == members.end() ? nullptr : &it->second;
}

const json* navigate(const json& root, const std::vector<std::string>& tokens) {
  const json* current = &root;
  for (const auto& token : tokens) {
    if (current->is_object()) {
      current = find_member(*current, token);
    } else if (current->is_array()) {
      if (token.empty() || token.size() > 9 ||
          !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          (token.size() > 1 && token[0] == '0')) {
        return nullptr;
      }
      const auto index = std::stoul(token);
      current = index < current->size() ? &(*current)[index] : nullptr;
    } else {
      return nullptr;
    }
    if (current == nullptr) {
      return nullptr;
    }
  }
  return current;
}

std::string child_pointer(std::string_view pointer, std::string_view token) {
  std::string out(pointer);
  out.push_back('/');
  out.append(escape_pointer_token(token));
  return out;
}

class Compiler {
public:
  Compiler(const CompileOptions& options, CompiledSchema& out) : m_options(options), m_out(out) {}

  void compile(const json& schema) {
    const std::string base(strip_fragment(m_options.base_uri));
    m_docs.push_back(std::make_unique<Document>(Document{base, schema}));
    index_document(0, Dialect{m_options.default_draft, k_vocab_all});
    m_out.root = node_at(Location{0, ""});
    drain();
  }

private:
  // --- documents and identifiers ---------------------------------------------------------

  Resource* new_resource(const std::string& uri) {
    Resource& resource = m_out.resources.emplace_back();
    resource.uri = uri;
    return &resource;
  }

  void index_document(std::size_t doc, Dialect dialect) {
    const json& root = m_docs[doc]->root;
    const std::string uri = m_docs[doc]->uri;
    if (root.is_object()) {
      if (const json* schema = find_member(root, "$schema"); schema && schema->is_string()) {
        dialect = dialect_for(schema->get<std::string>(), display(doc, "/$schema"));
      }
    }
    Resource* resource = new_resource(uri);
    m_resources.emplace(uri, Location{doc, ""});
    index(doc, root, "", uri, dialect, resource);
  }

  void index(std::size_t doc, const json& value, const std::string& pointer,
             const std::string& base, Dialect dialect, Resource* resource) {
    if (!value.is_object()) {
      m_infos.emplace(LocationKey{doc, pointer}, LocationInfo{base, dialect, resource});
      return;
    }
    const json* id = find_member(value, "$id");
    if (id != nullptr && !id->is_string()) {
      invalid(display(doc, pointer + "/$id"), "\"$id\" must be a string");
    }
    if (const json* schema = find_member(value, "$schema");
        schema && schema->is_string() && id != nullptr && !pointer.empty()) {
      dialect = dialect_for(schema->get<std::string>(), display(doc, pointer + "/$schema"));
    }
    std::string new_base = base;
    const Location here{doc, pointer};
    if (dialect.draft == Draft::draft7) {
      // Draft-07 ignores every sibling of "$ref", "$id" included.
      if (id != nullptr && find_member(value, "$ref") == nullptr) {
        const auto& text = id->get_ref<const std::string&>();
        const std::string resolved = resolve_uri(base, text);
        const auto fragment = fragment_of(resolved);
        if (!text.empty() && text[0] != '#') {
          new_base = std::string(strip_fragment(resolved));
          if (new_base != resource->uri) {
            resource = new_resource(new_base);
          }
          m_resources.emplace(new_base, here);
        }
        if (fragment && !fragment->empty() && (*fragment)[0] != '/') {
          m_anchors.emplace(new_base + "#" + std::string(*fragment), here);
        }
      }
    } else {
      if (id != nullptr) {
        new_base =
            std::string(strip_fragment(resolve_uri(base, id->get_ref<const std::string&>())));
        if (new_base != resource->uri) {
          resource = new_resource(new_base);
        }
        m_resources.emplace(new_base, here);
      }
      if (const json* anchor = find_member(value, "$anchor")) {
        if (!anchor->is_string()) {
          invalid(display(doc, pointer + "/$anchor"), "\"$anchor\" must be a string");
        }
        m_anchors.emplace(new_base + "#" + anchor->get<std::string>(), here);
      }
      if (const json* anchor = find_member(value, "$dynamicAnchor")) {
        if (!anchor->is_string()) {
          invalid(display(doc, pointer + "/$dynamicAnchor"), "\"$dynamicAnchor\" must be a string");
        }
        m_anchors.emplace(new_base + "#" + anchor->get<std::string>(), here);
        m_pending_anchors.push_back(PendingAnchor{resource, anchor->get<std::string>(), here});
      }
    }
    m_infos.emplace(LocationKey{doc, pointer}, LocationInfo{new_base, dialect, resource});

    const auto& keywords = subschema_keywords(dialect.draft);
    for (const auto keyword : keywords.single) {
      if (const json* child = find_member(value, keyword); child && !child->is_array()) {
        index(doc, *child, child_pointer(pointer, keyword), new_base, dialect, resource);
      }
    }
    for (const auto keyword : keywords.arrays) {
      if (const json* child = find_member(value, keyword); child && child->is_array()) {
        const std::string prefix = child_pointer(pointer, keyword);
        for (std::size_t i = 0; i < child->size(); ++i) {
          index(doc, (*child)[i], prefix + "/" + std::to_string(i), new_base, dialect, resource);
        }
      }
    }
    for (const auto keyword : keywords.maps) {
      if (const json* child = find_member(value, keyword); child && child->is_object()) {
        const std::string prefix = child_pointer(pointer, keyword);
        for (const auto& [name, member] : child->items()) {
          if (member.is_object() || member.is_boolean()) {
            index(doc, member, child_pointer(prefix, name), new_base, dialect, resource);
          }
        }
      }
    }
  }

  // The location of the resource with URI `uri`, loading the document if needed.
  std::optional<Location> find_resource(const std::string& uri, Dialect dialect,
                                        std::string_view where) {
    if (const auto it = m_resources.find(uri); it != m_resources.end()) {
      return it->second;
    }
    if (uri.empty() || !m_attempted_loads.insert(uri).second) {
      return std::nullopt;
    }
    std::optional<json> document;
    if (const auto text = embedded_metaschema(uri)) {
      document = json::parse(*text);
    } else if (m_options.loader) {
      try {
        document = m_options.loader(uri);
      } catch (const std::exception& e) {
        invalid(where, "cannot load " + quote(uri) + ": " + e.what());
      }
    }
    if (!document) {
      return std::nullopt;
    }
    m_docs.push_back(std::make_unique<Document>(Document{uri, std::move(*document)}));
    index_document(m_docs.size() - 1, dialect);
    return m_resources.at(uri);
  }

  Dialect dialect_for(const std::string& schema_uri, const std::string& where) {
    const std::string uri(strip_fragment(schema_uri));
    if (uri == k_draft7_uri || uri == "https://json-schema.org/draft-07/schema" ||
        uri == "http://json-schema.org/draft-06/schema" ||
        uri == "http://json-schema.org/draft-04/schema") {
      return Dialect{Draft::draft7, k_vocab_all};
    }
    if (uri == k_draft2020_uri || uri == "https://json-schema.org/draft/2019-09/schema") {
      return Dialect{Draft::draft2020_12, k_vocab_all};
    }
    if (const auto it = m_dialects.find(uri); it != m_dialects.end()) {
      return it->second;
    }
    // A custom meta-schema: its own "$schema" gives the draft, its "$vocabulary" the
    // vocabularies in force.
    m_dialects.emplace(uri, Dialect{});
    const auto location = find_resource(uri, Dialect{}, where);
    if (!location) {
      invalid(where, "unknown meta-schema " + quote(schema_uri));
    }
    const json* root =
        navigate(m_docs[location->doc]->root, *parse_json_pointer(location->pointer));
    Dialect dialect;
    if (root != nullptr && root->is_object()) {
      if (const json* meta = find_member(*root, "$schema"); meta && meta->is_string()) {
        if (std::string(strip_fragment(meta->get<std::string>())) != uri) {
          dialect = dialect_for(meta->get<std::string>(), where);
        }
      }
      if (const json* vocabularies = find_member(*root, "$vocabulary");
          vocabularies && vocabularies->is_object() && dialect.draft == Draft::draft2020_12) {
        dialect.vocabularies = 0;
        for (const auto& [name, required] : vocabularies->items()) {
          const std::string& vocabulary = name; // a lambda can't capture a structured binding
          const auto known = std::find_if(k_vocabularies.begin(), k_vocabularies.end(),
                                          [&](const auto& v) { return v.first == vocabulary; });
          if (known != k_vocabularies.end()) {
            dialect.vocabularies |= known->second;
          } else if (required.is_boolean() && required.get<bool>()) {
            invalid(where, "meta-schema " + quote(schema_uri) + " requires unknown vocabulary " +
                               quote(vocabulary));
          }
        }
      }
    }
    m_dialects[uri] = dialect;
    return dialect;
  }

  std::string display(std::size_t doc, std::string_view pointer) const {
    if (doc == 0) {
      return std::string(pointer);
    }
    return m_docs[doc]->uri + "#" + std::string(pointer);
  }

  // --- nodes -----------------------------------------------------------------------------

  const LocationInfo& info_for(std::size_t doc, const std::string& pointer) {
    std::string current = pointer;
    while (true) {
      if (const auto it = m_infos.find(LocationKey{doc, current}); it != m_infos.end()) {
        return it->second;
      }
      // Not walked (inside an unknown keyword): inherit from the nearest walked ancestor.
      current.erase(current.rfind('/'));
    }
  }

  Node* node_at(const Location& location, const json* value = nullptr) {
    const LocationKey key{location.doc, location.pointer};
    if (const auto it = m_nodes.find(key); it != m_nodes.end()) {
      return it->second;
    }
    if (value == nullptr) {
      value = navigate(m_docs[location.doc]->root, *parse_json_pointer(location.pointer));
    }
    Node* node = &m_out.nodes.emplace_back();
    m_nodes.emplace(key, node);
    m_pending.push_back(PendingNode{node, value, location.doc, location.pointer,
                                    info_for(location.doc, location.pointer)});
    return node;
  }

  void drain() {
    std::size_t anchors_done = 0;
    while (!m_pending.empty() || anchors_done < m_pending_anchors.size()) {
      while (!m_pending.empty()) {
        PendingNode pending = std::move(m_pending.back());
        m_pending.pop_back();
        compile_node(pending);
      }
      // Every "$dynamicAnchor" of every resource must be compiled: the dynamic scope can
      // pick any of them.
      while (anchors_done < m_pending_anchors.size()) {
        const PendingAnchor anchor = m_pending_anchors[anchors_done++];
        anchor.resource->dynamic_anchors.emplace_back(anchor.name, node_at(anchor.location));
      }
    }
  }

  const Node* child(const PendingNode& parent, std::string_view keyword, const json& value) {
    return node_at(Location{parent.doc, child_pointer(parent.pointer, keyword)}, &value);
  }

  const Node* child(const PendingNode& parent, std::string_view keyword, std::string_view token,
                    const json& value) {
    return node_at(
        Location{parent.doc, child_pointer(child_pointer(parent.pointer, keyword), token)}, &value);
  }

  std::vector<const Node*> schema_array(const PendingNode& p, std::string_view keyword,
                                        const json& value) {
    if (!value.is_array() || value.empty()) {
      invalid(display(p.doc, child_pointer(p.pointer, keyword)),
              quote(keyword) + " must be a non-empty array of schemas");
    }
    std::vector<const Node*> nodes;
    for (std::size_t i = 0; i < value.size(); ++i) {
      nodes.push_back(child(p, keyword, std::to_string(i), value[i]));
    }
    return nodes;
  }

  const json& object_keyword(const PendingNode& p, std::string_view keyword, const json& value) {
    if (!value.is_object()) {
      invalid(display(p.doc, child_pointer(p.pointer, keyword)),
              quote(keyword) + " must be an object");
    }
    return value;
  }

  std::uint64_t non_negative_integer(const PendingNode& p, std::string_view keyword,
                                     const json& value) {
    if (!value.is_number() || !is_integer_value(value) || compare_numbers(value, json(0)) < 0) {
      invalid(display(p.doc, child_pointer(p.pointer, keyword)),
              quote(keyword) + " must be a non-negative integer, got " + describe(value));
    }
    if (value.is_number_float()) {
      const double d = value.get<double>();
      return d >= 1.8e19 ? UINT64_MAX : static_cast<std::uint64_t>(d);
    }
    return value.get<std::uint64_t>();
  }

  const json& number(const PendingNode& p, std::string_view keyword, const json& value) {
    if (!value.is_number()) {
      invalid(display(p.doc, child_pointer(p.pointer, keyword)),
              quote(keyword) + " must be a number, got " + describe(value));
    }
    return value;
  }

  std::vector<std::string> string_array(const PendingNode& p, std::string_view where,
                                        std::string_view keyword, const json& value) {
    if (!value.is_array() ||
        !std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_string(); })) {
      invalid(display(p.doc, where), quote(keyword) + " must be an array of strings");
    }
    return value.get<std::vector<std::string>>();
  }

  Regex regex(const PendingNode& p, const std::string& where, const std::string& source) {
    std::string error;
    auto compiled = Regex::compile(source, error);
    if (!compiled) {
      invalid(display(p.doc, where), "cannot compile pattern " + quote(source) + ": " + error);
    }
    return std::move(*compiled);
  }

  const Node* resolve_reference(const PendingNode& p, std::string_view keyword, const json& value,
                                std::string* fragment_out = nullptr,
                                Location* location_out = nullptr) {
    const std::string where = display(p.doc, child_pointer(p.pointer, keyword));
    if (!value.is_string()) {
      invalid(where, quote(keyword) + " must be a string");
    }
    const std::string target = resolve_uri(p.info.base_uri, value.get<std::string>());
    const std::string uri(strip_fragment(target));
    const auto raw_fragment = fragment_of(target).value_or("");
    const auto fragment = percent_decode(raw_fragment);
    const auto root = find_resource(uri, p.info.dialect, where);
    if (!root || !fragment) {
      invalid(where, "cannot resolve " + quote(value.get<std::string>()));
    }
    Location location = *root;
    if (!fragment->empty() && (*fragment)[0] == '/') {
      const auto tokens = parse_json_pointer(*fragment);
      const json* base = navigate(m_docs[root->doc]->root, *parse_json_pointer(root->pointer));
      if (!tokens || base == nullptr || navigate(*base, *tokens) == nullptr) {
        invalid(where, "cannot resolve " + quote(value.get<std::string>()));
      }
      for (const auto& token : *tokens) {
        location.pointer = child_pointer(location.pointer, token);
      }
    } else if (!fragment->empty()) {
      const auto it = m_anchors.find(uri + "#" + *fragment);
      if (it == m_anchors.end()) {
        invalid(where, "cannot resolve " + quote(value.get<std::string>()));
      }
      location = it->second;
    }
    if (fragment_out != nullptr) {
      *fragment_out = *fragment;
    }
    if (location_out != nullptr) {
      *location_out = location;
    }
    return node_at(location);
  }

  void compile_type(const PendingNode& p, Node& node, const json& value) {
    const auto add = [&](const json& name) {
      const auto known = std::find_if(k_type_names.begin(), k_type_names.end(), [&](const auto& t) {
        return name.is_string() && t.first == name.get_ref<const std::string&>();
      });
      if (known == k_type_names.end()) {
        invalid(display(p.doc, child_pointer(p.pointer, "type")),
                describe(name) + " is not a type (expected \"array\", \"boolean\", \"integer\", "
                                 "\"null\", \"number\", \"object\" or \"string\")");
      }
      node.types |= known->second;
      node.type_names.push_back(name.get<std::string>());
    };
    if (value.is_array()) {
      if (value.empty()) {
        invalid(display(p.doc, child_pointer(p.pointer, "type")), "\"type\" must not be empty");
      }
      for (const auto& name : value) {
        add(name);
      }
    } else {
      add(value);
    }
    // "number" accepts integers; an integer instance carries both bits.
  }

  void compile_node(PendingNode& p) {
    Node& node = *p.node;
    node.location = display(p.doc, p.pointer);
    node.resource = p.info.resource;
    const json& value = *p.value;
    if (value.is_boolean()) {
      node.kind = value.get<bool>() ? Node::Kind::always_true : Node::Kind::always_false;
      return;
    }
    if (!value.is_object()) {
      invalid(node.location, "expected a schema (an object or a boolean), got " + describe(value));
    }
    const Dialect dialect = p.info.dialect;
    const bool draft7 = dialect.draft == Draft::draft7;
    const auto vocab = [&](unsigned bit) { return draft7 || (dialect.vocabularies & bit) != 0; };
    const auto find = [&](std::string_view keyword) { return find_member(value, keyword); };

    // Definitions are compiled even when nothing refers to them, so mistakes in them are
    // reported.
    if (const json* defs = find(draft7 ? "definitions" : "$defs")) {
      for (const auto& [name, schema] :
           object_keyword(p, draft7 ? "definitions" : "$defs", *defs).items()) {
        child(p, draft7 ? "definitions" : "$defs", name, schema);
      }
    }

    if (const json* ref = find("$ref")) {
      node.ref = resolve_reference(p, "$ref", *ref);
      node.groups |= k_group_ref;
      if (draft7) {
        return; // siblings of "$ref" are ignored
      }
    }
    if (const json* ref = find("$dynamicRef"); ref && !draft7) {
      std::string fragment;
      Location target;
      node.dynamic_ref = resolve_reference(p, "$dynamicRef", *ref, &fragment, &target);
      node.groups |= k_group_ref;
      // Only a plain-name fragment naming a "$dynamicAnchor" of the initial target makes the
      // reference dynamic ("bookending").
      if (!fragment.empty() && fragment[0] != '/') {
        const json* target_value =
            navigate(m_docs[target.doc]->root, *parse_json_pointer(target.pointer));
        if (target_value != nullptr && target_value->is_object()) {
          const json* anchor = find_member(*target_value, "$dynamicAnchor");
          if (anchor && anchor->is_string() && anchor->get_ref<const std::string&>() == fragment) {
            node.dynamic_anchor = fragment;
            m_out.uses_dynamic_scope = true;
          }
        }
      }
    }

    if (vocab(k_vocab_applicator)) {
      compile_applicators(p, node, value, draft7);
    }
    if (!draft7 && vocab(k_vocab_unevaluated)) {
      if (const json* v = find("unevaluatedProperties")) {
        node.unevaluated_properties = child(p, "unevaluatedProperties", *v);
        node.groups |= k_group_unevaluated;
      }
      if (const json* v = find("unevaluatedItems")) {
        node.unevaluated_items = child(p, "unevaluatedItems", *v);
        node.groups |= k_group_unevaluated;
      }
    }
    if (vocab(k_vocab_validation)) {
      compile_validation(p, node, value, draft7);
    }
    if (const json* v = find("format")) {
      if (!v->is_string()) {
        invalid(display(p.doc, child_pointer(p.pointer, "format")), "\"format\" must be a string");
      }
      const bool assert_format =
          m_options.format_assertion ||
          (!draft7 && (dialect.vocabularies & k_vocab_format_assertion) != 0);
      if (assert_format) {
        node.format = parse_format(v->get_ref<const std::string&>());
        node.format_name = v->get<std::string>();
        if (node.format) {
          node.groups |= k_group_string;
        }
      }
    }
  }

  void compile_applicators(PendingNode& p, Node& node, const json& value, bool draft7) {
    const auto find = [&](std::string_view keyword) { return find_member(value, keyword); };
    if (const json* v = find("allOf")) {
      node.all_of = schema_array(p, "allOf", *v);
    }
    if (const json* v = find("anyOf")) {
      node.any_of = schema_array(p, "anyOf", *v);
    }
    if (const json* v = find("oneOf")) {
      node.one_of = schema_array(p, "oneOf", *v);
    }
    if (const json* v = find("not")) {
      node.not_schema = child(p, "not", *v);
    }
    if (const json* v = find("if")) {
      node.if_schema = child(p, "if", *v);
      if (const json* then_value = find("then")) {
        node.then_schema = child(p, "then", *then_value);
      }
      if (const json* else_value = find("else")) {
        node.else_schema = child(p, "else", *else_value);
      }
    }
    if (!node.all_of.empty() || !node.any_of.empty() || !node.one_of.empty() ||
        node.not_schema != nullptr || node.if_schema != nullptr) {
      node.groups |= k_group_applicator;
    }

    if (const json* v = find("properties")) {
      for (const auto& [name, schema] : object_keyword(p, "properties", *v).items()) {
        node.properties.push_back(NamedNode{name, child(p, "properties", name, schema)});
      }
      std::sort(node.properties.begin(), node.properties.end(),
                [](const NamedNode& a, const NamedNode& b) { return a.name < b.name; });
    }
    if (const json* v = find("patternProperties")) {
      for (const auto& [source, schema] : object_keyword(p, "patternProperties", *v).items()) {
        const std::string where =
            child_pointer(child_pointer(p.pointer, "patternProperties"), source);
        node.pattern_properties.push_back(
            PatternNode{regex(p, where, source), child(p, "patternProperties", source, schema)});
      }
    }
    if (const json* v = find("additionalProperties")) {
      node.additional_properties = child(p, "additionalProperties", *v);
    }
    if (!node.properties.empty() || !node.pattern_properties.empty() ||
        node.additional_properties != nullptr) {
      node.groups |= k_group_object | k_group_properties;
    }
    if (const json* v = find("propertyNames")) {
      node.property_names = child(p, "propertyNames", *v);
      node.groups |= k_group_object;
    }
    // "dependencies" was split in 2020-12; it is still honoured there for compatibility.
    {
      if (const json* v = find("dependencies")) {
        for (const auto& [name, dependency] : object_keyword(p, "dependencies", *v).items()) {
          if (dependency.is_array()) {
            node.dependent_required.push_back(DependentRequired{
                name,
                string_array(p, child_pointer(child_pointer(p.pointer, "dependencies"), name),
                             "dependencies", dependency),
                "dependencies"});
          } else {
            node.dependent_schemas.push_back(
                NamedNode{name, child(p, "dependencies", name, dependency)});
          }
        }
        node.groups |= k_group_object;
      }
    }
    if (const json* v = find("dependentSchemas"); v && !draft7) {
      for (const auto& [name, schema] : object_keyword(p, "dependentSchemas", *v).items()) {
        node.dependent_schemas.push_back(
            NamedNode{name, child(p, "dependentSchemas", name, schema)});
      }
      node.groups |= k_group_object;
    }

    if (draft7) {
      if (const json* v = find("items")) {
        if (v->is_array()) {
          node.prefix_items_keyword = "items";
          for (std::size_t i = 0; i < v->size(); ++i) {
            node.prefix_items.push_back(child(p, "items", std::to_string(i), (*v)[i]));
          }
          if (const json* additional = find("additionalItems")) {
            node.items = child(p, "additionalItems", *additional);
            node.items_keyword = "additionalItems";
          }
        } else {
          node.items = child(p, "items", *v);
        }
        node.groups |= k_group_array;
      }
    } else {
      if (const json* v = find("prefixItems")) {
        node.prefix_items = schema_array(p, "prefixItems", *v);
        node.groups |= k_group_array;
      }
      if (const json* v = find("items")) {
        if (v->is_array()) {
          invalid(display(p.doc, child_pointer(p.pointer, "items")),
                  "\"items\" must be a schema in draft 2020-12 (use \"prefixItems\" for a tuple)");
        }
        node.items = child(p, "items", *v);
        node.groups |= k_group_array;
      }
    }
    if (const json* v = find("contains")) {
      node.contains = child(p, "contains", *v);
      node.groups |= k_group_array;
    }
  }

  void compile_validation(PendingNode& p, Node& node, const json& value, bool draft7) {
    const auto find = [&](std::string_view keyword) { return find_member(value, keyword); };
    if (const json* v = find("type")) {
      compile_type(p, node, *v);
    }
    if (const json* v = find("const")) {
      node.const_value = *v;
      node.groups |= k_group_value;
    }
    if (const json* v = find("enum")) {
      if (!v->is_array()) {
        invalid(display(p.doc, child_pointer(p.pointer, "enum")), "\"enum\" must be an array");
      }
      node.enum_values = *v;
      node.groups |= k_group_value;
    }

    if (const json* v = find("multipleOf")) {
      if (!v->is_number() || compare_numbers(*v, json(0)) <= 0) {
        invalid(display(p.doc, child_pointer(p.pointer, "multipleOf")),
                "\"multipleOf\" must be a number greater than 0, got " + describe(*v));
      }
      node.multiple_of = *v;
    }
    if (const json* v = find("minimum")) {
      node.minimum = number(p, "minimum", *v);
    }
    if (const json* v = find("maximum")) {
      node.maximum = number(p, "maximum", *v);
    }
    if (const json* v = find("exclusiveMinimum")) {
      node.exclusive_minimum = number(p, "exclusiveMinimum", *v);
    }
    if (const json* v = find("exclusiveMaximum")) {
      node.exclusive_maximum = number(p, "exclusiveMaximum", *v);
    }
    if (node.multiple_of || node.minimum || node.maximum || node.exclusive_minimum ||
        node.exclusive_maximum) {
      node.groups |= k_group_number;
    }

    if (const json* v = find("minLength")) {
      node.min_length = non_negative_integer(p, "minLength", *v);
    }
    if (const json* v = find("maxLength")) {
      node.max_length = non_negative_integer(p, "maxLength", *v);
    }
    if (const json* v = find("pattern")) {
      if (!v->is_string()) {
        invalid(display(p.doc, child_pointer(p.pointer, "pattern")),
                "\"pattern\" must be a string");
      }
      node.pattern = regex(p, child_pointer(p.pointer, "pattern"), v->get<std::string>());
    }
    if (node.min_length || node.max_length || node.pattern) {
      node.groups |= k_group_string;
    }

    if (const json* v = find("minItems")) {
      node.min_items = non_negative_integer(p, "minItems", *v);
    }
    if (const json* v = find("maxItems")) {
      node.max_items = non_negative_integer(p, "maxItems", *v);
    }
    if (const json* v = find("uniqueItems")) {
      if (!v->is_boolean()) {
        invalid(display(p.doc, child_pointer(p.pointer, "uniqueItems")),
                "\"uniqueItems\" must be a boolean");
      }
      node.unique_items = v->get<bool>();
    }
    if (!draft7) {
      if (const json* v = find("minContains")) {
        node.min_contains = non_negative_integer(p, "minContains", *v);
      }
      if (const json* v = find("maxContains")) {
        node.max_contains = non_negative_integer(p, "maxContains", *v);
      }
    }
    if (node.min_items || node.max_items || node.unique_items) {
      node.groups |= k_group_array;
    }

    if (const json* v = find("required")) {
      node.required = string_array(p, child_pointer(p.pointer, "required"), "required", *v);
    }
    if (const json* v = find("minProperties")) {
      node.min_properties = non_negative_integer(p, "minProperties", *v);
    }
    if (const json* v = find("maxProperties")) {
      node.max_properties = non_negative_integer(p, "maxProperties", *v);
    }
    if (!draft7) {
      if (const json* v = find("dependentRequired")) {
        for (const auto& [name, names] : object_keyword(p, "dependentRequired", *v).items()) {
          node.dependent_required.push_back(DependentRequired{
              name,
              string_array(p, child_pointer(child_pointer(p.pointer, "dependentRequired"), name),
                           "dependentRequired", names),
              "dependentRequired"});
        }
      }
    }
    if (!node.required.empty() || node.min_properties || node.max_properties ||
        !node.dependent_required.empty()) {
      node.groups |= k_group_object;
    }
  }

  const CompileOptions& m_options;
  CompiledSchema& m_out;
  std::vector<std::unique_ptr<Document>> m_docs;
  std::unordered_map<std::string, Location> m_resources;
  std::unordered_map<std::string, Location> m_anchors;
  std::unordered_map<std::string, Dialect> m_dialects;
  std::map<LocationKey, LocationInfo> m_infos;
  std::map<LocationKey, Node*> m_nodes;
  std::vector<PendingNode> m_pending;
  std::vector<PendingAnchor> m_pending_anchors;
  std::unordered_set<std::string> m_attempted_loads;
};

} // namespace

CompiledSchema compile_schema(const json& schema, const CompileOptions& options) {
  CompiledSchema out;
  Compiler compiler(options, out);
  compiler.compile(schema);
  return out;
}

} // namespace promptops::jsonschema::detail
