#include "util/json_pointer.hpp"

#include <catch2/catch.hpp>

using namespace promptops::util;

TEST_CASE("util::pointer_append, escapes ~ and /", "[util]") {
  CHECK(pointer_append("", "a/b~c") == "/a~1b~0c");
  CHECK(pointer_append("/messages", 2) == "/messages/2");
  CHECK(pointer_last_token("/x/a~1b~0c") == "a/b~c");
  CHECK(pointer_parent("/messages/2/content") == "/messages/2");
  CHECK(pointer_parent("/x") == "");
}

TEST_CASE("util::pointer_to_display, reads as a path a person writes", "[util]") {
  CHECK(pointer_to_display("") == "");
  CHECK(pointer_to_display("/messages/1/content") == "messages[1].content");
  CHECK(pointer_to_display("/providers/default/params") == "providers.default.params");
  CHECK(pointer_to_display("/0") == "[0]");
}
