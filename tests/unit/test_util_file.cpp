#include "tests/support/temp_dir.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using promptops::test::TempDir;
namespace util = promptops::util;

TEST_CASE("util::write_file_atomic, creates folders and replaces whole files", "[util]") {
  TempDir dir;
  const auto path = dir.path() / "a" / "b" / "c.txt";
  util::write_file_atomic(path, "first");
  CHECK(util::read_file(path) == "first");
  util::write_file_atomic(path, "second, longer");
  CHECK(util::read_file(path) == "second, longer");
  // No temporary file is left behind.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("util::read_file, a missing file is an InputError naming it", "[util]") {
  TempDir dir;
  REQUIRE_THROWS_WITH(util::read_file(dir.path() / "nope.yaml", "nope.yaml"),
                      "nope.yaml: cannot read file: No such file or directory");
  CHECK_FALSE(util::read_file_if_exists(dir.path() / "nope.yaml").has_value());
}
