#include "jsonschema/json_value.hpp"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>

namespace promptops::jsonschema::detail {

namespace {

using nlohmann::json;

constexpr std::size_t k_describe_limit = 80;
constexpr std::size_t k_string_limit = 60;

bool is_int(const json& v) {
  return v.is_number_integer(); // signed or unsigned
}

long double as_long_double(const json& v) {
  switch (v.type()) {
  case json::value_t::number_unsigned:
    return static_cast<long double>(v.get_ref<const json::number_unsigned_t&>());
  case json::value_t::number_integer:
    return static_cast<long double>(v.get_ref<const json::number_integer_t&>());
  default:
    return static_cast<long double>(v.get_ref<const json::number_float_t&>());
  }
}

// Magnitude and sign of an integer JSON number, exact for the whole int64/uint64 range.
struct IntParts {
  bool negative;
  std::uint64_t magnitude;
};

IntParts int_parts(const json& v) {
  if (v.is_number_unsigned()) {
    return {false, v.get_ref<const json::number_unsigned_t&>()};
  }
  const auto i = v.get_ref<const json::number_integer_t&>();
  if (i < 0) {
    return {true, static_cast<std::uint64_t>(-(i + 1)) + 1U};
  }
  return {false, static_cast<std::uint64_t>(i)};
}

void render(const json& value, std::string& out) {
  if (out.size() > k_describe_limit) {
    return;
  }
  switch (value.type()) {
  case json::value_t::string:
    out.append(quote(value.get_ref<const std::string&>()));
    return;
  case json::value_t::array: {
    out.push_back('[');
    bool first = true;
    for (const auto& item : value) {
      if (!first) {
        out.append(", ");
      }
      first = false;
      render(item, out);
      if (out.size() > k_describe_limit) {
        return;
      }
    }
    out.push_back(']');
    return;
  }
  case json::value_t::object: {
    out.push_back('{');
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) {
        out.append(", ");
      }
      first = false;
      out.append(quote(key)).append(": ");
      render(item, out);
      if (out.size() > k_describe_limit) {
        return;
      }
    }
    out.push_back('}');
    return;
  }
  default:
    out.append(value.dump());
    return;
  }
}

} // namespace

bool json_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    return compare_numbers(a, b) == 0;
  }
  if (a.type() != b.type()) {
    return false;
  }
  switch (a.type()) {
  case json::value_t::array: {
    const auto& x = a.get_ref<const json::array_t&>();
    const auto& y = b.get_ref<const json::array_t&>();
    if (x.size() != y.size()) {
      return false;
    }
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!json_equal(x[i], y[i])) {
        return false;
      }
    }
    return true;
  }
  case json::value_t::object: {
    const auto& x = a.get_ref<const json::object_t&>();
    const auto& y = b.get_ref<const json::object_t&>();
    if (x.size() != y.size()) {
      return false;
    }
    // Both maps are sorted by key, so members pair up in order.
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
      if (i->first != j->first || !json_equal(i->second, j->second)) {
        return false;
      }
    }
    return true;
  }
  default:
    return a == b;
  }
}

std::size_t json_hash(const json& value) {
  switch (value.type()) {
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
  case json::value_t::number_float:
    return std::hash<double>{}(static_cast<double>(as_long_double(value))) ^ 0x9e3779b9U;
  case json::value_t::array: {
    std::size_t h = 0x345678U;
    for (const auto& item : value) {
      h = h * 1000003U ^ json_hash(item);
    }
    return h;
  }
  case json::value_t::object: {
    std::size_t h = 0x6789abU;
    for (const auto& [key, item] : value.items()) {
      h = h * 1000003U ^ std::hash<std::string>{}(key) ^ (json_hash(item) << 1U);
    }
    return h;
  }
  default:
    return std::hash<json>{}(value);
  }
}

int compare_numbers(const json& a, const json& b) {
  if (is_int(a) && is_int(b)) {
    const IntParts x = int_parts(a);
    const IntParts y = int_parts(b);
    if (x.negative != y.negative) {
      return x.negative ? -1 : 1;
    }
    if (x.magnitude == y.magnitude) {
      return 0;
    }
    const bool x_smaller_magnitude = x.magnitude < y.magnitude;
    return (x_smaller_magnitude != x.negative) ? -1 : 1;
  }
  const long double x = as_long_double(a);
  const long double y = as_long_double(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool is_integer_value(const json& value) {
  if (is_int(value)) {
    return true;
  }
  if (!value.is_number_float()) {
    return false;
  }
  const double d = value.get_ref<const json::number_float_t&>();
  return std::isfinite(d) && std::floor(d) == d;
}

bool is_multiple_of(const json& value, const json& divisor) {
  if (is_int(value) && is_int(divisor)) {
    const std::uint64_t m = int_parts(divisor).magnitude;
    return m != 0 && int_parts(value).magnitude % m == 0;
  }
  const double x = static_cast<double>(as_long_double(value));
  const double m = static_cast<double>(as_long_double(divisor));
  if (m == 0.0) {
    return false;
  }
  const double q = x / m;
  if (!std::isfinite(q)) {
    // Overflow: an integer is a multiple of anything that divides 1.
    const double inverse = 1.0 / m;
    return std::floor(x) == x && std::isfinite(inverse) && std::floor(inverse) == inverse;
  }
  if (std::fabs(q) >= 9007199254740992.0) { // 2^53: every double this large is an integer
    return true;
  }
  const double nearest = std::round(q);
  return std::fabs(q - nearest) <= 8 * DBL_EPSILON * std::fmax(1.0, std::fabs(q));
}

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) {
      ++count;
    }
  }
  return count;
}

std::string describe(const json& value) {
  std::string out;
  render(value, out);
  if (out.size() > k_describe_limit) {
    out.resize(k_describe_limit);
    // Don't cut a UTF-8 sequence in half.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0U) == 0x80U) {
      out.pop_back();
    }
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0U) {
      out.pop_back();
    }
    out.append("...");
  }
  return out;
}

std::string quote(std::string_view text) {
  if (text.size() <= k_string_limit) {
    return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  std::size_t cut = k_string_limit - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  std::string quoted =
      json(std::string(text.substr(0, cut))).dump(-1, ' ', false, json::error_handler_t::replace);
  quoted.pop_back(); // the closing quote
  quoted.append("...\"");
  return quoted;
}

} // namespace promptops::jsonschema::detail
