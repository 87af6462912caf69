#include "util/text.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace text = promptops::util::text;

TEST_CASE("util::text::printable, what is escaped", "[util]") {
  SECTION("C0 controls and DEL") {
    CHECK(text::printable("a\nb\tc\rd") == "a\\nb\\tc\\rd");
    CHECK(text::printable(std::string("nul\0x", 5)) == "nul\\x00x");
    CHECK(text::printable("\x1b[2J\x07\x7f") == "\\x1b[2J\\x07\\x7f");
  }
  SECTION("C1 controls") {
    CHECK(text::printable("csi \xC2\x9B"
                          "2J") == "csi \\u009b2J");
    CHECK(text::printable("nel \xC2\x85.") == "nel \\u0085.");
    CHECK(text::printable("nbsp \xC2\xA0.") == "nbsp \xC2\xA0."); // U+00A0 is text
  }
  SECTION("line and paragraph separators") {
    CHECK(text::printable("a\xE2\x80\xA8"
                          "b\xE2\x80\xA9"
                          "c") == "a\\u2028b\\u2029c");
  }
  SECTION("bidirectional overrides, embeddings and isolates") {
    CHECK(text::printable("\xE2\x80\xAA\xE2\x80\xAB\xE2\x80\xAC\xE2\x80\xAD\xE2\x80\xAE") ==
          "\\u202a\\u202b\\u202c\\u202d\\u202e");
    CHECK(text::printable("\xE2\x81\xA6\xE2\x81\xA7\xE2\x81\xA8\xE2\x81\xA9") ==
          "\\u2066\\u2067\\u2068\\u2069");
    CHECK(text::printable("\xE2\x80\x8E\xE2\x80\x8F\xD8\x9C") == "\\u200e\\u200f\\u061c");
    CHECK(text::printable("\xE2\x80\xAF\xE2\x81\xAA") == "\xE2\x80\xAF\xE2\x81\xAA"); // neighbours
  }
  SECTION("invalid UTF-8, byte by byte") {
    CHECK(text::printable("ok\xC3") == "ok\\xc3");                        // cut short
    CHECK(text::printable("\xC0\xAF") == "\\xc0\\xaf");                   // overlong
    CHECK(text::printable("\xED\xA0\x80") == "\\xed\\xa0\\x80");          // a surrogate
    CHECK(text::printable("\xF4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80"); // past U+10FFFF
    CHECK(text::printable("\xFF\xFE") == "\\xff\\xfe");
  }
  SECTION("text is kept") {
    CHECK(text::printable("日本語 ✓ 🙂 \"q\" \\") == "日本語 ✓ 🙂 \"q\" \\");
  }
}

TEST_CASE("util::text::printable, options for formats that show lines", "[util]") {
  const text::PrintableOptions lines{.layout = text::Layout::keep,
                                     .invalid = text::Invalid::replace};
  CHECK(text::printable("a\tb\nc\r\n\xE2\x80\xA8", lines) == "a\tb\nc\r\n\xE2\x80\xA8");
  CHECK(text::printable("\x1b\xE2\x80\xAE\xC2\x9B", lines) == "\\x1b\\u202e\\u009b");
  CHECK(text::printable("\xFF \xEF\xBF\xBE", lines) == "\xEF\xBF\xBD \xEF\xBF\xBD");
  CHECK(text::printable("\"\\", {.quotes = text::Quotes::escape}) == "\\\"\\\\");
}

TEST_CASE("util::text::append_printable, stops after a number of characters", "[util]") {
  std::string out;
  CHECK(text::append_printable(out, "h\xC3\xA9llo", 0, 2) == 3);
  CHECK(out == "h\xC3\xA9");
  out.clear();
  // An escape counts as one character.
  CHECK(text::append_printable(out,
                               "\x1b\x1b"
                               "abc",
                               1, 2) == 3);
  CHECK(out == "\\x1ba");
  CHECK(text::shorten("abcdef", 3) == "abc\xE2\x80\xA6");
  CHECK(text::shorten("abc", 3) == "abc");
}

TEST_CASE("util::text::truncate_utf8, cuts on a character boundary", "[util]") {
  CHECK(text::truncate_utf8("\xC3\xA9\xC3\xA9", 3, "...") == "\xC3\xA9...");
  CHECK(text::truncate_utf8("\xC3\xA9\xC3\xA9", 4, "...") == "\xC3\xA9\xC3\xA9");
  CHECK(text::truncate_utf8("ab\xF0\x9F\x99\x82", 5, "+") == "ab+"); // never half an emoji
  CHECK(text::truncate_utf8("abcdef", 3, "") == "abc");
  CHECK(text::truncate_utf8("\xE2\x82\xAC", 0, "+") == "+");
}

TEST_CASE("util::text::line_and_column, columns count characters", "[util]") {
  CHECK(text::line_and_column("ab\nc\xC3\xA9x", 6) == std::pair<std::size_t, std::size_t>{2, 3});
  CHECK(text::line_and_column("abc", 0) == std::pair<std::size_t, std::size_t>{1, 1});
}

TEST_CASE("util::text::nests_deeper and balanced_end, brackets in strings do not count", "[util]") {
  CHECK(text::balanced_end(R"({"a": "}]", "b": [1]} tail)", 0) == std::size_t{21});
  CHECK_FALSE(text::balanced_end("[[1]", 0).has_value());
  CHECK(text::nests_deeper("[[[1]]]", 2));
  CHECK_FALSE(text::nests_deeper(R"([["[[[["]])", 2));
  CHECK(text::trim("  a b \n") == "a b");
  CHECK(text::collapse_whitespace(" a \t\n b  c ") == "a b c");
}

TEST_CASE("util::text::size_text: the largest unit that divides", "[util]") {
  using promptops::util::text::size_text;
  CHECK(size_text(64 << 20) == "64 MiB");
  CHECK(size_text(512 << 10) == "512 KiB");
  CHECK(size_text(1000) == "1000 bytes");
  CHECK(size_text(0) == "0 bytes");
}
