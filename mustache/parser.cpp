#include "mustache/program.hpp"
#include "mustache/template.hpp"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace promptops::mustache::detail {

namespace {

enum class TokenKind : std::uint8_t {
  text,
  escaped,
  raw,
  section,
  inverted,
  close,
  partial,
  comment,
  delimiters,
};

// The scanner's output. Text is cut after every newline, so that the standalone pass can see
// the lines; tags keep their trimmed content.
struct Token {
  TokenKind kind = TokenKind::text;
  bool removed = false;    // whitespace of a standalone line
  bool line_start = false; // first token of a line that stays
  bool standalone = false; // a partial alone on its line
  std::size_t begin = 0;   // text: its range; tag: its trimmed content
  std::size_t end = 0;
  std::size_t tag = 0;          // tag: offset of its opening delimiter, for errors
  std::size_t indent_begin = 0; // standalone partial: the whitespace before it
  std::size_t indent_end = 0;
};

bool is_blank_char(char c) {
  return c == ' ' || c == '\t';
}
bool is_space_char(char c) {
  return is_blank_char(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool can_stand_alone(TokenKind kind) {
  switch (kind) {
  case TokenKind::section:
  case TokenKind::inverted:
  case TokenKind::close:
  case TokenKind::partial:
  case TokenKind::comment:
  case TokenKind::delimiters:
    return true;
  case TokenKind::text:
  case TokenKind::escaped:
  case TokenKind::raw:
    return false;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space_char(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space_char(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// `s` in double quotes, cut short: a stray "{{" before a long passage must not quote it all.
std::string quoted(std::string_view s) {
  constexpr std::size_t k_max_quoted = 60;
  std::string result = "\"";
  if (s.size() <= k_max_quoted) {
    result += s;
  } else {
    std::size_t cut = k_max_quoted;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0U) == 0x80U) {
      --cut; // not inside a UTF-8 character
    }
    result += s.substr(0, cut);
    result += "...";
  }
  result += '"';
  return result;
}

class Parser {
public:
  explicit Parser(std::string_view source) : m_source(source) {}

  Program run() {
    if (m_source.size() >= std::numeric_limits<std::uint32_t>::max()) {
      throw TemplateSyntaxError(1, 1, "template larger than 4 GiB");
    }
    scan();
    mark_standalone_lines();
    return build();
  }

private:
  [[noreturn]] void fail(std::size_t offset, const std::string& problem) const {
    std::size_t line = 1;
    std::size_t column = 1;
    for (std::size_t i = 0; i < offset && i < m_source.size(); ++i) {
      const auto c = static_cast<unsigned char>(m_source[i]);
      if (c == '\n') {
        ++line;
        column = 1;
      } else if ((c & 0xC0U) != 0x80U) {
        ++column;
      }
    }
    throw TemplateSyntaxError(line, column, problem);
  }

  std::string_view slice(std::size_t begin, std::size_t end) const {
    return m_source.substr(begin, end - begin);
  }

  void add_text(std::size_t begin, std::size_t end) {
    while (begin < end) {
      const std::size_t newline = m_source.find('\n', begin);
      const std::size_t stop =
          newline == std::string_view::npos || newline >= end ? end : newline + 1;
      m_tokens.push_back(Token{.kind = TokenKind::text, .begin = begin, .end = stop});
      begin = stop;
    }
  }

  void add_tag(TokenKind kind, std::size_t begin, std::size_t end, std::size_t tag) {
    const std::string_view content = trim(slice(begin, end));
    const auto content_begin = static_cast<std::size_t>(content.data() - m_source.data());
    m_tokens.push_back(Token{
        .kind = kind, .begin = content_begin, .end = content_begin + content.size(), .tag = tag});
    if (kind == TokenKind::comment) {
      return;
    }
    if (content.empty()) {
      fail(tag, "empty tag name");
    }
    const bool has_space = std::any_of(content.begin(), content.end(), is_space_char);
    const bool bad_dots = kind != TokenKind::partial && content != "." &&
                          (content.front() == '.' || content.back() == '.' ||
                           content.find("..") != std::string_view::npos);
    if (has_space || bad_dots) {
      fail(tag, "invalid tag name " + quoted(content));
    }
  }

  // {{=<% %>=}}: `begin`..`end` is what lies between the two equals signs.
  void set_delimiters(std::size_t begin, std::size_t end, std::size_t tag,
                      std::string_view whole_tag) {
    const std::string_view content = trim(slice(begin, end));
    std::size_t split = 0;
    while (split < content.size() && !is_space_char(content[split])) {
      ++split;
    }
    const std::string_view open = content.substr(0, split);
    const std::string_view close = trim(content.substr(split));
    const auto bad = [](std::string_view delimiter) {
      return delimiter.empty() || delimiter.find('=') != std::string_view::npos ||
             std::any_of(delimiter.begin(), delimiter.end(), is_space_char);
    };
    if (bad(open) || bad(close)) {
      fail(tag, "invalid set-delimiter tag " + quoted(whole_tag));
    }
    m_tokens.push_back(
        Token{.kind = TokenKind::delimiters, .begin = begin, .end = end, .tag = tag});
    m_open = open;
    m_close = close;
  }

  void scan() {
    std::size_t pos = 0;
    const std::size_t size = m_source.size();
    while (pos < size) {
      const std::size_t tag = m_source.find(m_open, pos);
      if (tag == std::string_view::npos) {
        add_text(pos, size);
        break;
      }
      add_text(pos, tag);
      const std::size_t inner = tag + m_open.size();
      const char first = inner < size ? m_source[inner] : '\0';

      if (first == '{') {
        const std::string close = "}" + m_close;
        const std::size_t stop = m_source.find(close, inner + 1);
        if (stop == std::string_view::npos) {
          fail(tag, "unclosed tag");
        }
        add_tag(TokenKind::raw, inner + 1, stop, tag);
        pos = stop + close.size();
        continue;
      }

      if (first == '=') {
        const std::string close = "=" + m_close;
        const std::size_t stop = m_source.find(close, inner + 1);
        if (stop == std::string_view::npos) {
          const std::size_t plain = m_source.find(m_close, inner + 1);
          if (plain == std::string_view::npos) {
            fail(tag, "unclosed tag");
          }
          fail(tag, "invalid set-delimiter tag " + quoted(trim(slice(inner, plain))));
        }
        set_delimiters(inner + 1, stop, tag, trim(slice(inner, stop + 1)));
        pos = stop + close.size();
        continue;
      }

      const std::size_t stop = m_source.find(m_close, inner);
      if (stop == std::string_view::npos) {
        fail(tag, "unclosed tag");
      }
      pos = stop + m_close.size();

      // Like the reference implementation, whitespace may come before the sigil: {{ #name }}.
      std::size_t sigil = inner;
      while (sigil < stop && is_blank_char(m_source[sigil])) {
        ++sigil;
      }
      TokenKind kind = TokenKind::escaped;
      switch (sigil < stop ? m_source[sigil] : '\0') {
      case '#':
        kind = TokenKind::section;
        break;
      case '^':
        kind = TokenKind::inverted;
        break;
      case '/':
        kind = TokenKind::close;
        break;
      case '>':
        kind = TokenKind::partial;
        break;
      case '!':
        kind = TokenKind::comment;
        break;
      case '&':
        kind = TokenKind::raw;
        break;
      default:
        break;
      }
      add_tag(kind, kind == TokenKind::escaped ? inner : sigil + 1, stop, tag);
    }
  }

  // A line whose tags are all sections, closings, partials, comments or set-delimiter tags
  // and whose text is only whitespace is standalone: its whitespace and line ending go.
  void mark_standalone_lines() {
    std::size_t first = 0;
    while (first < m_tokens.size()) {
      std::size_t last = first;
      while (last + 1 < m_tokens.size() && !ends_line(m_tokens[last])) {
        ++last;
      }
      std::size_t tags = 0;
      bool blank = true;
      for (std::size_t i = first; i <= last && blank; ++i) {
        const Token& token = m_tokens[i];
        if (token.kind == TokenKind::text) {
          std::string_view text = slice(token.begin, token.end);
          if (i == last && text.back() == '\n') {
            text.remove_suffix(1);
            if (!text.empty() && text.back() == '\r') {
              text.remove_suffix(1);
            }
          }
          blank = std::all_of(text.begin(), text.end(), is_blank_char);
        } else {
          ++tags;
          blank = can_stand_alone(token.kind);
        }
      }
      if (blank && tags > 0) {
        for (std::size_t i = first; i <= last; ++i) {
          Token& token = m_tokens[i];
          token.removed = token.kind == TokenKind::text;
          if (tags == 1 && token.kind == TokenKind::partial) {
            token.standalone = true;
            if (i > first) {
              token.indent_begin = m_tokens[first].begin;
              token.indent_end = m_tokens[i - 1].end;
            }
          }
        }
      } else {
        m_tokens[first].line_start = true;
      }
      first = last + 1;
    }
  }

  bool ends_line(const Token& token) const {
    return token.kind == TokenKind::text && m_source[token.end - 1] == '\n';
  }

  static std::uint32_t narrow(std::size_t value) { return static_cast<std::uint32_t>(value); }

  std::uint32_t name_index(std::string_view text) {
    const auto [it, inserted] =
        m_name_indices.try_emplace(std::string(text), narrow(m_program.names.size()));
    if (inserted) {
      Name name;
      if (text != ".") {
        std::size_t begin = 0;
        while (true) {
          const std::size_t dot = text.find('.', begin);
          name.parts.emplace_back(text.substr(begin, dot - begin));
          if (dot == std::string_view::npos) {
            break;
          }
          begin = dot + 1;
        }
        if (m_variables_seen.insert(name.parts.front()).second) {
          m_program.variables.push_back(name.parts.front());
        }
      }
      m_program.names.push_back(std::move(name));
    }
    return it->second;
  }

  std::uint32_t partial_index(std::string_view text) {
    const auto [it, inserted] =
        m_partial_indices.try_emplace(std::string(text), narrow(m_program.partial_names.size()));
    if (inserted) {
      m_program.partial_names.emplace_back(text);
      m_program.partials.emplace_back(text);
    }
    return it->second;
  }

  Program build() {
    struct Open {
      std::size_t node;
      std::size_t token;
    };
    std::vector<Open> open;
    std::vector<Node>& nodes = m_program.nodes;
    std::string& text = m_program.text;
    bool line_start = false;
    bool after_text = false;

    const auto add_node = [&](Node node) {
      node.line_start = line_start;
      line_start = false;
      after_text = false;
      nodes.push_back(node);
    };

    for (std::size_t i = 0; i < m_tokens.size(); ++i) {
      const Token& token = m_tokens[i];
      if (token.removed) {
        continue;
      }
      line_start = line_start || token.line_start;
      const std::string_view content = slice(token.begin, token.end);
      switch (token.kind) {
      case TokenKind::text:
        // Text that follows text joins it: a line start inside is implied by its newline.
        if (after_text) {
          nodes.back().length += narrow(content.size());
          line_start = false;
        } else {
          add_node(Node{.kind = NodeKind::text,
                        .offset = narrow(text.size()),
                        .length = narrow(content.size())});
          after_text = true;
        }
        text += content;
        break;
      case TokenKind::escaped:
        add_node(Node{.kind = NodeKind::escaped, .index = name_index(content)});
        break;
      case TokenKind::raw:
        add_node(Node{.kind = NodeKind::raw, .index = name_index(content)});
        break;
      case TokenKind::section:
      case TokenKind::inverted:
        if (open.size() >= k_max_section_depth) {
          fail(token.tag,
               "sections nested deeper than " + std::to_string(k_max_section_depth) + " levels");
        }
        open.push_back(Open{nodes.size(), i});
        add_node(
            Node{.kind = token.kind == TokenKind::section ? NodeKind::section : NodeKind::inverted,
                 .index = name_index(content)});
        break;
      case TokenKind::close: {
        if (open.empty()) {
          fail(token.tag, "unexpected closing tag " + quoted(content));
        }
        const Token& opening = m_tokens[open.back().token];
        const std::string_view opened = slice(opening.begin, opening.end);
        if (opened != content) {
          fail(token.tag,
               "closing tag " + quoted(content) + " does not match open section " + quoted(opened));
        }
        if (line_start) {
          add_node(Node{.kind = NodeKind::indent});
        }
        nodes[open.back().node].end = narrow(nodes.size());
        open.pop_back();
        after_text = false;
        break;
      }
      case TokenKind::partial: {
        const auto indent = slice(token.indent_begin, token.indent_end);
        add_node(Node{.kind = NodeKind::partial,
                      .standalone = token.standalone,
                      .index = partial_index(content),
                      .offset = narrow(text.size()),
                      .length = narrow(indent.size())});
        text += indent;
        break;
      }
      case TokenKind::comment:
      case TokenKind::delimiters:
        break;
      }
    }
    if (!open.empty()) {
      const Token& opening = m_tokens[open.back().token];
      fail(opening.tag, "unclosed section " + quoted(slice(opening.begin, opening.end)));
    }
    return std::move(m_program);
  }

  std::string_view m_source;
  std::string m_open = "{{";
  std::string m_close = "}}";
  std::vector<Token> m_tokens;
  Program m_program;
  std::unordered_map<std::string, std::uint32_t> m_name_indices;
  std::unordered_map<std::string, std::uint32_t> m_partial_indices;
  std::unordered_set<std::string> m_variables_seen;
};

} // namespace

Program parse_program(std::string_view source) {
  return Parser(source).run();
}

} // namespace promptops::mustache::detail
