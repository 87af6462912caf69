#pragma once

#include <cstddef>
#include <string>
#include <string_view>

// One escaper per output language the reports write. All of them rest on the one rule of what
// is safe to print (util::text::printable): control characters, bidirectional controls and
// invalid UTF-8 from a model's output never reach a report as they are.
namespace promptops::report {

// `text` made printable for a report file: valid UTF-8 that XML 1.0 allows, with the characters
// util::text::printable escapes written as the text "\x1b", "\u202e" and the like, except tab,
// newline, carriage return, U+2028 and U+2029 (each format writes line breaks its own way); an
// invalid byte and U+FFFE/U+FFFF become U+FFFD.
std::string clean_text(std::string_view text);

// clean_text(`raw`) cut to at most `max_bytes` bytes on a character boundary, with `note`
// appended when it was cut. Only the start of `raw` is cleaned, so a 5 MB output costs little.
std::string clean_cut(std::string_view raw, std::size_t max_bytes, std::string_view note);

// `text` cleaned (clean_text) and escaped for XML text and attribute values: & < > " ' become
// entities, a carriage return becomes &#13;, and so do tab and newline (&#9;, &#10;) in an
// attribute (a parser would otherwise turn them into spaces).
enum class XmlContext { text, attribute };
std::string xml_escape(std::string_view text, XmlContext context = XmlContext::text);

// xml_escape(`text`, `context`) for HTML: U+2028 and U+2029 become &#8232; and &#8233; as
// well (they end a line in a script, and no piece of the run should reach a page raw).
std::string html_escape(std::string_view text, XmlContext context = XmlContext::text);

// How markdown_inline writes a line break.
enum class LineBreaks { space, br };

// `text` cleaned (clean_text) and escaped for inline Markdown (a table cell, a list item, a
// heading): & < > become entities, the backtick becomes &#96;, the characters that make
// emphasis, links, tables or a block at the start (\ * _ [ ] | ~ # and a leading - + or "1.")
// are backslash-escaped, "@" gets a zero-width space (no mention), line breaks become a space
// or <br>.
std::string markdown_inline(std::string_view text, LineBreaks breaks = LineBreaks::space);

// `text` (cleaned) as a fenced code block whose backtick fence is longer than any run of
// backticks in it, so that nothing in it can close the block. Ends with a newline.
std::string markdown_fence(std::string_view text);

// `text` as one line of HTML text inside Markdown (a <summary>): html_escape'd as an attribute
// (a line break as &#10;, so that no blank line ends the HTML block), and "@" with a zero-width
// space so that no one is mentioned.
std::string markdown_html_line(std::string_view text);

// `text` made safe for a terminal (an escape sequence in a model's output could rewrite the
// screen, a bidirectional control reorder it): util::text::printable, cut after `max` code
// points with "...".
std::string terminal_safe(std::string_view text, std::size_t max = 200);

} // namespace promptops::report
