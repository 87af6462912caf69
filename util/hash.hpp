#pragma once

#include <string>
#include <string_view>

namespace promptops::util {

// Lower-case hex SHA-256 of `data` (64 characters).
std::string sha256_hex(std::string_view data);

// Standard base64 of `data` (RFC 4648, with "=" padding).
std::string base64(std::string_view data);

} // namespace promptops::util
