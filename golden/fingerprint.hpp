#pragma once

#include "reply/reply.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The format fingerprint of one output: its form, not its content. Drift detection
// (golden/drift.hpp) compares the fingerprints of a baseline's outputs with a run's. The
// features and their values are documented in docs/drift.md.
namespace promptops::golden {

// Bumped whenever a feature is added, removed or computed differently: a stored fingerprint of
// another version is not compared but recomputed from its output.
// 3: the called tools ("tools") were added.
inline constexpr int k_fingerprint_version = 3;

// A small map from feature name to value, sorted by name, held in one vector: a run keeps a
// fingerprint per output (100,000 and more), and node-based maps cost tens of allocations and
// kilobytes each.
template <class V> class FeatureMap {
public:
  using value_type = std::pair<std::string, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  V& operator[](std::string_view name) {
    auto it = lower_bound(name);
    if (it == m_items.end() || it->first != name) {
      it = m_items.emplace(it, std::string(name), V());
    }
    return it->second;
  }
  const_iterator find(std::string_view name) const {
    const auto it = lower_bound(name);
    return it != m_items.end() && it->first == name ? it : m_items.end();
  }
  iterator find(std::string_view name) {
    const auto it = lower_bound(name);
    return it != m_items.end() && it->first == name ? it : m_items.end();
  }
  const V& at(std::string_view name) const {
    const auto it = find(name);
    if (it == end()) {
      throw std::out_of_range("no feature " + std::string(name));
    }
    return it->second;
  }
  bool contains(std::string_view name) const { return find(name) != end(); }
  const_iterator begin() const { return m_items.begin(); }
  const_iterator end() const { return m_items.end(); }
  iterator begin() { return m_items.begin(); }
  iterator end() { return m_items.end(); }
  bool empty() const { return m_items.empty(); }
  // Gives back the room that growing left: a run holds 100,000 fingerprints and more, and 17
  // features in a vector grown to 32 cost a kilobyte each.
  void shrink_to_fit() { m_items.shrink_to_fit(); }
  std::size_t size() const { return m_items.size(); }

  friend bool operator==(const FeatureMap&, const FeatureMap&) = default;

private:
  const_iterator lower_bound(std::string_view name) const {
    return std::lower_bound(
        m_items.begin(), m_items.end(), name,
        [](const value_type& item, std::string_view n) { return item.first < n; });
  }
  iterator lower_bound(std::string_view name) {
    return std::lower_bound(
        m_items.begin(), m_items.end(), name,
        [](const value_type& item, std::string_view n) { return item.first < n; });
  }

  std::vector<value_type> m_items;
};

// A set of named features. A categorical feature has a short value ("object", "fenced:json",
// "snake_case"); a numeric one a number (length in characters, line count). A feature that
// does not apply to the output (the key case of an output without JSON) is absent.
struct Fingerprint {
  FeatureMap<std::string> categorical;
  FeatureMap<double> numeric;
  // Short, printable excerpts that show what a feature found (the text before the JSON, the
  // answer tag): used in drift messages, never compared.
  FeatureMap<std::string> excerpts;

  // The value of categorical feature `name`, or std::nullopt when it does not apply.
  std::optional<std::string_view> category(std::string_view name) const;
  // The value of numeric feature `name`, or std::nullopt when it does not apply.
  std::optional<double> number(std::string_view name) const;

  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

// The fingerprint of `output`, a reply that called the tools named `tool_names` (in any
// order, repeats allowed: the feature "tools" is the sorted, distinct names, or "none"). Never
// throws on any input (huge, binary, invalid UTF-8) and takes time linear in its size.
Fingerprint fingerprint(std::string_view output, const std::vector<std::string>& tool_names = {});
// The names of `calls`, in their order: fingerprint(output, tool_names(reply.facts.tool_calls)).
std::vector<std::string> tool_names(const std::vector<reply::ToolCall>& calls);

// `fp` as a compact JSON object with sorted keys, stored in result lines as "fingerprint":
// {"v":3,"code_fence":"none",...,"length":42,"lines":1,"excerpts":{...}}. Every string in it is
// valid UTF-8.
nlohmann::json to_json(const Fingerprint& fp);
// The same object, members in the same (sorted) order, as an ordered_json: a result line holds
// it without converting one type into the other.
nlohmann::ordered_json to_ordered_json(const Fingerprint& fp);

// A fingerprint read back from to_json()'s form, or std::nullopt when `value` is not one of the
// current version (the caller then recomputes it from the output). Strings are made printable
// again, since a stored file may have been edited.
std::optional<Fingerprint> fingerprint_from_json(const nlohmann::json& value);
std::optional<Fingerprint> fingerprint_from_json(const nlohmann::ordered_json& value);

} // namespace promptops::golden
