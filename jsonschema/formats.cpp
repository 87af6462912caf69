#include "jsonschema/formats.hpp"

#include "jsonschema/regex.hpp"

#include <re2/re2.h>

#include <array>
#include <string>
#include <utility>

namespace promptops::jsonschema::detail {

namespace {

constexpr std::array<std::pair<std::string_view, Format>, 19> k_formats{{
    {"date-time", Format::date_time},
    {"date", Format::date},
    {"time", Format::time},
    {"duration", Format::duration},
    {"email", Format::email},
    {"idn-email", Format::idn_email},
    {"hostname", Format::hostname},
    {"idn-hostname", Format::idn_hostname},
    {"ipv4", Format::ipv4},
    {"ipv6", Format::ipv6},
    {"uri", Format::uri},
    {"uri-reference", Format::uri_reference},
    {"iri", Format::iri},
    {"iri-reference", Format::iri_reference},
    {"uri-template", Format::uri_template},
    {"uuid", Format::uuid},
    {"regex", Format::regex},
    {"json-pointer", Format::json_pointer},
    {"relative-json-pointer", Format::relative_json_pointer},
}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Reads exactly `count` ASCII digits at `pos`; -1 when they are not there.
int read_digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) {
    return -1;
  }
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) {
      return -1;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool is_leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// RFC 3339 full-date.
bool check_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return false;
  }
  const int year = read_digits(text, 0, 4);
  const int month = read_digits(text, 5, 2);
  const int day = read_digits(text, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1) {
    return false;
  }
  constexpr std::array<int, 12> k_days{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int max_day =
      month == 2 && !is_leap_year(year) ? 28 : k_days[static_cast<std::size_t>(month - 1)];
  return day <= max_day;
}

// RFC 3339 full-time; a leap second is valid only at 23:59:60 UTC.
bool check_time(std::string_view text) {
  if (text.size() < 9 || text[2] != ':' || text[5] != ':') {
    return false;
  }
  const int hour = read_digits(text, 0, 2);
  const int minute = read_digits(text, 3, 2);
  const int second = read_digits(text, 6, 2);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return false;
  }
  std::size_t pos = 8;
  if (text[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < text.size() && is_digit(text[pos])) {
      ++pos;
    }
    if (pos == start) {
      return false;
    }
  }
  if (pos >= text.size()) {
    return false;
  }
  int offset_minutes = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    if (pos + 1 != text.size()) {
      return false;
    }
  } else if (text[pos] == '+' || text[pos] == '-') {
    if (text.size() != pos + 6 || text[pos + 3] != ':') {
      return false;
    }
    const int offset_hour = read_digits(text, pos + 1, 2);
    const int offset_minute = read_digits(text, pos + 4, 2);
    if (offset_hour < 0 || offset_hour > 23 || offset_minute < 0 || offset_minute > 59) {
      return false;
    }
    offset_minutes = (offset_hour * 60 + offset_minute) * (text[pos] == '+' ? 1 : -1);
  } else {
    return false;
  }
  if (second == 60) {
    const int utc = ((hour * 60 + minute - offset_minutes) % 1440 + 1440) % 1440;
    return utc == 23 * 60 + 59;
  }
  return true;
}

bool check_date_time(std::string_view text) {
  if (text.size() < 20 || (text[10] != 'T' && text[10] != 't')) {
    return false;
  }
  return check_date(text.substr(0, 10)) && check_time(text.substr(11));
}

bool check_ipv4(std::string_view text) {
  int parts = 0;
  std::size_t pos = 0;
  while (true) {
    std::size_t end = pos;
    while (end < text.size() && is_digit(text[end])) {
      ++end;
    }
    const std::size_t length = end - pos;
    if (length == 0 || length > 3 || (length > 1 && text[pos] == '0') ||
        read_digits(text, pos, length) > 255) {
      return false;
    }
    ++parts;
    if (end == text.size()) {
      return parts == 4;
    }
    if (text[end] != '.' || parts == 4) {
      return false;
    }
    pos = end + 1;
  }
}

// Counts the 16-bit groups in a run of ":"-separated groups, the last of which may be an
// IPv4 address when `ipv4_allowed`; -1 when malformed.
int count_ipv6_groups(std::string_view text, bool ipv4_allowed) {
  if (text.empty()) {
    return 0;
  }
  int groups = 0;
  std::size_t pos = 0;
  while (true) {
    const auto colon = text.find(':', pos);
    const auto group = text.substr(pos, colon == std::string_view::npos ? colon : colon - pos);
    if (colon == std::string_view::npos && ipv4_allowed &&
        group.find('.') != std::string_view::npos) {
      return check_ipv4(group) ? groups + 2 : -1;
    }
    if (group.empty() || group.size() > 4) {
      return -1;
    }
    for (const char c : group) {
      if (!is_hex_digit(c)) {
        return -1;
      }
    }
    ++groups;
    if (colon == std::string_view::npos) {
      return groups;
    }
    pos = colon + 1;
  }
}

bool check_ipv6(std::string_view text) {
  const auto gap = text.find("::");
  if (gap == std::string_view::npos) {
    return count_ipv6_groups(text, true) == 8;
  }
  const auto left = text.substr(0, gap);
  const auto right = text.substr(gap + 2);
  if (right.find("::") != std::string_view::npos) {
    return false;
  }
  const int left_groups = count_ipv6_groups(left, false);
  const int right_groups = count_ipv6_groups(right, true);
  return left_groups >= 0 && right_groups >= 0 && left_groups + right_groups <= 7;
}

bool check_hostname(std::string_view text, bool international) {
  if (text.empty() || text.size() > 253) {
    return false;
  }
  std::size_t pos = 0;
  while (true) {
    const auto dot = text.find('.', pos);
    const auto label = text.substr(pos, dot == std::string_view::npos ? dot : dot - pos);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (const char c : label) {
      const bool ascii_ok = is_alpha(c) || is_digit(c) || c == '-';
      if (!ascii_ok && !(international && static_cast<unsigned char>(c) >= 0x80)) {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    pos = dot + 1;
  }
}

bool is_atext(char c) {
  static constexpr std::string_view k_specials = "!#$%&'*+-/=?^_`{|}~";
  return is_alpha(c) || is_digit(c) || k_specials.find(c) != std::string_view::npos;
}

bool check_email(std::string_view text, bool international) {
  const auto at = text.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == text.size()) {
    return false;
  }
  const auto local = text.substr(0, at);
  const auto domain = text.substr(at + 1);
  if (local.front() == '"') {
    if (local.size() < 2 || local.back() != '"') {
      return false;
    }
    for (std::size_t i = 1; i + 1 < local.size(); ++i) {
      const char c = local[i];
      if (c == '\\') {
        ++i;
      } else if (c == '"' || static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
    }
  } else {
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
      return false;
    }
    for (const char c : local) {
      if (c != '.' && !is_atext(c) && !(international && static_cast<unsigned char>(c) >= 0x80)) {
        return false;
      }
    }
  }
  if (domain.front() == '[') {
    if (domain.back() != ']') {
      return false;
    }
    const auto literal = domain.substr(1, domain.size() - 2);
    if (literal.substr(0, 5) == "IPv6:") {
      return check_ipv6(literal.substr(5));
    }
    return check_ipv4(literal);
  }
  return check_hostname(domain, international);
}

bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool is_sub_delim(char c) {
  static constexpr std::string_view k_sub_delims = "!$&'()*+,;=";
  return k_sub_delims.find(c) != std::string_view::npos;
}

// Checks that `text` consists of unreserved, sub-delims, percent-escapes and `extra`
// characters (plus non-ASCII bytes for IRIs).
bool check_uri_chars(std::string_view text, std::string_view extra, bool international) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size() || !is_hex_digit(text[i + 1]) || !is_hex_digit(text[i + 2])) {
        return false;
      }
      i += 2;
      continue;
    }
    if (is_unreserved(c) || is_sub_delim(c) || extra.find(c) != std::string_view::npos) {
      continue;
    }
    if (international && static_cast<unsigned char>(c) >= 0x80) {
      continue;
    }
    return false;
  }
  return true;
}

bool check_authority(std::string_view authority, bool international) {
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos &&
      !check_uri_chars(authority.substr(0, at), ":", international)) {
    return false;
  }
  auto host_port = at == std::string_view::npos ? authority : authority.substr(at + 1);
  std::string_view host = host_port;
  std::string_view port;
  if (!host_port.empty() && host_port.front() == '[') {
    const auto close = host_port.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    host = host_port.substr(1, close - 1);
    const auto rest = host_port.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return false;
      }
      port = rest.substr(1);
    }
    if (!host.empty() && (host.front() == 'v' || host.front() == 'V')) {
      const auto dot = host.find('.');
      return dot != std::string_view::npos && dot > 1 &&
             check_uri_chars(host.substr(dot + 1), ":", false);
    }
    if (!check_ipv6(host)) {
      return false;
    }
  } else {
    const auto colon = host_port.rfind(':');
    if (colon != std::string_view::npos) {
      host = host_port.substr(0, colon);
      port = host_port.substr(colon + 1);
    }
    if (!check_uri_chars(host, "", international)) {
      return false;
    }
  }
  for (const char c : port) {
    if (!is_digit(c)) {
      return false;
    }
  }
  return true;
}

// RFC 3986 URI / URI-reference, RFC 3987 IRI / IRI-reference.
bool check_uri(std::string_view text, bool reference, bool international) {
  std::string_view rest = text;
  const auto colon = text.find(':');
  const auto first_delimiter = text.find_first_of("/?#");
  const bool has_scheme_part =
      colon != std::string_view::npos &&
      (first_delimiter == std::string_view::npos || colon < first_delimiter);
  if (has_scheme_part) {
    const auto scheme = text.substr(0, colon);
    if (scheme.empty() || !is_alpha(scheme.front())) {
      return false;
    }
    for (const char c : scheme) {
      if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') {
        return false;
      }
    }
    rest = text.substr(colon + 1);
  } else if (!reference) {
    return false;
  }
  std::string_view fragment;
  std::string_view query;
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) {
    fragment = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
  }
  if (const auto question = rest.find('?'); question != std::string_view::npos) {
    query = rest.substr(question + 1);
    rest = rest.substr(0, question);
  }
  if (rest.substr(0, 2) == "//") {
    const auto slash = rest.find('/', 2);
    if (!check_authority(rest.substr(2, slash == std::string_view::npos ? slash : slash - 2),
                         international)) {
      return false;
    }
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  return check_uri_chars(rest, ":@/", international) &&
         check_uri_chars(query, ":@/?", international) &&
         check_uri_chars(fragment, ":@/?", international);
}

bool is_varchar_start(std::string_view text, std::size_t pos) {
  const char c = text[pos];
  if (c == '%') {
    return pos + 2 < text.size() && is_hex_digit(text[pos + 1]) && is_hex_digit(text[pos + 2]);
  }
  return is_alpha(c) || is_digit(c) || c == '_';
}

// RFC 6570 expression body: [operator] varspec *("," varspec).
bool check_uri_template_expression(std::string_view body) {
  std::size_t pos = 0;
  if (!body.empty() && std::string_view("+#./;?&").find(body[0]) != std::string_view::npos) {
    ++pos;
  }
  while (true) {
    // varname = varchar *(["."] varchar)
    if (pos >= body.size() || !is_varchar_start(body, pos)) {
      return false;
    }
    while (pos < body.size()) {
      if (body[pos] == '.' && pos + 1 < body.size() && is_varchar_start(body, pos + 1)) {
        ++pos;
      } else if (is_varchar_start(body, pos)) {
        pos += body[pos] == '%' ? 3 : 1;
      } else {
        break;
      }
    }
    if (pos < body.size() && body[pos] == '*') {
      ++pos;
    } else if (pos < body.size() && body[pos] == ':') {
      const std::size_t start = ++pos;
      while (pos < body.size() && is_digit(body[pos])) {
        ++pos;
      }
      if (pos == start || pos - start > 4 || body[start] == '0') {
        return false;
      }
    }
    if (pos == body.size()) {
      return true;
    }
    if (body[pos] != ',') {
      return false;
    }
    ++pos;
  }
}

bool check_uri_template(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '{') {
      const auto close = text.find('}', i + 1);
      if (close == std::string_view::npos ||
          !check_uri_template_expression(text.substr(i + 1, close - i - 1))) {
        return false;
      }
      i = close;
    } else if (c == '%') {
      if (i + 2 >= text.size() || !is_hex_digit(text[i + 1]) || !is_hex_digit(text[i + 2])) {
        return false;
      }
      i += 2;
    } else if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F ||
               std::string_view("\"<>\\^`|}").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool check_uuid(std::string_view text) {
  if (text.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-' : !is_hex_digit(text[i])) {
      return false;
    }
  }
  return true;
}

bool check_json_pointer(std::string_view text) {
  if (!text.empty() && text.front() != '/') {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '~' && (i + 1 == text.size() || (text[i + 1] != '0' && text[i + 1] != '1'))) {
      return false;
    }
  }
  return true;
}

bool check_relative_json_pointer(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) {
    ++digits;
  }
  if (digits == 0 || (digits > 1 && text[0] == '0')) {
    return false;
  }
  const auto rest = text.substr(digits);
  return rest == "#" || check_json_pointer(rest);
}

bool check_duration(std::string_view text) {
  // RFC 3339 appendix A.
  static const re2::RE2 k_duration(
      R"(P(?:(?:\d+D|\d+M(?:\d+D)?|\d+Y(?:\d+M(?:\d+D)?)?)(?:T(?:\d+H(?:\d+M(?:\d+S)?)?|\d+M(?:\d+S)?|\d+S))?|T(?:\d+H(?:\d+M(?:\d+S)?)?|\d+M(?:\d+S)?|\d+S)|\d+W))");
  return re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), k_duration);
}

} // namespace

std::optional<Format> parse_format(std::string_view name) {
  for (const auto& [format_name, format] : k_formats) {
    if (format_name == name) {
      return format;
    }
  }
  return std::nullopt;
}

bool check_format(Format format, std::string_view value) {
  switch (format) {
  case Format::date_time:
    return check_date_time(value);
  case Format::date:
    return check_date(value);
  case Format::time:
    return check_time(value);
  case Format::duration:
    return check_duration(value);
  case Format::email:
    return check_email(value, false);
  case Format::idn_email:
    return check_email(value, true);
  case Format::hostname:
    return check_hostname(value, false);
  case Format::idn_hostname:
    return check_hostname(value, true);
  case Format::ipv4:
    return check_ipv4(value);
  case Format::ipv6:
    return check_ipv6(value);
  case Format::uri:
    return check_uri(value, false, false);
  case Format::uri_reference:
    return check_uri(value, true, false);
  case Format::iri:
    return check_uri(value, false, true);
  case Format::iri_reference:
    return check_uri(value, true, true);
  case Format::uri_template:
    return check_uri_template(value);
  case Format::uuid:
    return check_uuid(value);
  case Format::regex: {
    std::string error;
    return is_ecma_syntax(value) && Regex::compile(value, error).has_value();
  }
  case Format::json_pointer:
    return check_json_pointer(value);
  case Format::relative_json_pointer:
    return check_relative_json_pointer(value);
  }
  return true;
}

} // namespace promptops::jsonschema::detail
