#include "util/hash.hpp"

#include <nettle/base64.h>
#include <nettle/sha2.h>

#include <cstdint>

namespace promptops::util {

// Nettle, not OpenSSL 3: OpenSSL's provider set-up at first use cost more than all of
// `promptops render` besides (measured with callgrind), and nettle needs no set-up.
std::string sha256_hex(std::string_view data) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(SHA256_DIGEST_SIZE * 2);
  for (std::uint8_t byte : digest) {
    out += k_hex[byte >> 4];
    out += k_hex[byte & 0xf];
  }
  return out;
}

std::string base64(std::string_view data) {
  std::string out(BASE64_ENCODE_RAW_LENGTH(data.size()), '\0');
  base64_encode_raw(out.data(), data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
  return out;
}

} // namespace promptops::util
