#include "report/escape.hpp"

#include "util/text.hpp"

#include <algorithm>

namespace promptops::report {

namespace {

constexpr std::string_view k_zero_width_space = "&#8203;"; // after "@": "@name" mentions no one

// & < > as entities, which every markup written here needs; false for any other character.
bool append_entity(std::string& out, char c) {
  switch (c) {
  case '&':
    out += "&amp;";
    return true;
  case '<':
    out += "&lt;";
    return true;
  case '>':
    out += "&gt;";
    return true;
  default:
    return false;
  }
}

} // namespace

std::string clean_text(std::string_view text) {
  return util::text::printable(
      text, {.layout = util::text::Layout::keep, .invalid = util::text::Invalid::replace});
}

std::string clean_cut(std::string_view raw, std::size_t max_bytes, std::string_view note) {
  if (raw.size() <= max_bytes) {
    return util::text::truncate_utf8(clean_text(raw), max_bytes, note);
  }
  // Cleaning never makes text shorter, and a UTF-8 sequence is at most 4 bytes: the first
  // max_bytes of the cleaned start are those of the whole text cleaned.
  std::string out =
      util::text::truncate_utf8(clean_text(raw.substr(0, max_bytes + 4)), max_bytes, "");
  out += note;
  return out;
}

std::string xml_escape(std::string_view text, XmlContext context) {
  const std::string clean = clean_text(text);
  std::string out;
  out.reserve(clean.size() + clean.size() / 8);
  for (const char c : clean) {
    if (append_entity(out, c)) {
      continue;
    }
    switch (c) {
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&apos;";
      break;
    case '\r':
      // A parser turns a raw CR (and CRLF) into LF; the reference keeps it.
      out += "&#13;";
      break;
    case '\n':
      out += context == XmlContext::attribute ? "&#10;" : "\n";
      break;
    case '\t':
      out += context == XmlContext::attribute ? "&#9;" : "\t";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string html_escape(std::string_view text, XmlContext context) {
  std::string escaped = xml_escape(text, context);
  if (escaped.find("\xE2\x80") == std::string::npos) {
    return escaped;
  }
  std::string out;
  out.reserve(escaped.size() + 16);
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped.compare(i, 3, "\xE2\x80\xA8") == 0 || escaped.compare(i, 3, "\xE2\x80\xA9") == 0) {
      out += escaped[i + 2] == '\xA8' ? "&#8232;" : "&#8233;";
      i += 2;
    } else {
      out += escaped[i];
    }
  }
  return out;
}

std::string markdown_inline(std::string_view text, LineBreaks breaks) {
  const std::string clean = clean_text(text);
  std::string out;
  out.reserve(clean.size() + clean.size() / 4);
  // A list marker, a heading or an ordered-list number at the very start would make a block.
  std::size_t digits = 0;
  while (digits < clean.size() && clean[digits] >= '0' && clean[digits] <= '9') {
    ++digits;
  }
  const bool ordered_marker =
      digits > 0 && digits < clean.size() && (clean[digits] == '.' || clean[digits] == ')');
  for (std::size_t i = 0; i < clean.size(); ++i) {
    const char c = clean[i];
    if (append_entity(out, c)) {
      continue;
    }
    switch (c) {
    case '`':
      out += "&#96;";
      break;
    case '@':
      out += '@';
      out += k_zero_width_space;
      break;
    case '\\':
    case '*':
    case '_':
    case '[':
    case ']':
    case '|':
    case '~':
    case '#':
      out += '\\';
      out += c;
      break;
    case '\r':
      if (i + 1 < clean.size() && clean[i + 1] == '\n') {
        break;
      }
      [[fallthrough]];
    case '\n':
      out += breaks == LineBreaks::br ? "<br>" : " ";
      break;
    case '-':
    case '+':
      if (i == 0) {
        out += '\\';
      }
      out += c;
      break;
    case '.':
    case ')':
      if (ordered_marker && i == digits) {
        out += '\\';
      }
      out += c;
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string markdown_fence(std::string_view text) {
  std::string clean = clean_text(text);
  std::size_t longest = 0;
  std::size_t run = 0;
  for (const char c : clean) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  if (clean.empty() || clean.back() != '\n') {
    clean += '\n';
  }
  return fence + "\n" + clean + fence + "\n";
}

std::string markdown_html_line(std::string_view text) {
  std::string out;
  for (const char c : html_escape(text, XmlContext::attribute)) {
    out += c;
    if (c == '@') {
      out += k_zero_width_space;
    }
  }
  return out;
}

std::string terminal_safe(std::string_view text, std::size_t max) {
  std::string out;
  if (util::text::append_printable(out, text, 0, max) < text.size()) {
    out += "...";
  }
  return out;
}

} // namespace promptops::report
