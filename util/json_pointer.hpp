#pragma once

#include <string>
#include <string_view>

namespace promptops::util {

// Append one reference token to JSON Pointer `base`, escaping "~" and "/" (RFC 6901).
std::string pointer_append(std::string_view base, std::string_view token);
std::string pointer_append(std::string_view base, std::size_t index);

// The parent of `pointer` ("" for "" and for "/x").
std::string pointer_parent(std::string_view pointer);

// The last reference token of `pointer`, unescaped ("" for "").
std::string pointer_last_token(std::string_view pointer);

// `pointer` written for people: "/messages/1/content" becomes "messages[1].content", "" the
// document itself.
std::string pointer_to_display(std::string_view pointer);

} // namespace promptops::util
