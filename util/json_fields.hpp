#pragma once

#include <string>
#include <string_view>

namespace promptops::util {

// The string member `key` of `object`, or "" when `object` is not an object or the member is
// missing or not a string. (Also avoids json::value(key, std::string()), on which GCC 12 -O3
// reports a null dereference inside nlohmann.)
template <class Json> std::string_view string_view_field(const Json& object, std::string_view key);

template <class Json> std::string string_field(const Json& object, std::string_view key) {
  return std::string(string_view_field(object, key));
}

// As string_field, without a copy: the view lives as long as `object` is not changed.
template <class Json> std::string_view string_view_field(const Json& object, std::string_view key) {
  if (!object.is_object()) {
    return {};
  }
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return {};
  }
  return it->template get_ref<const std::string&>();
}

} // namespace promptops::util
