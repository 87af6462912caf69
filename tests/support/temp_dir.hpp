#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace promptops::test {

// A fresh folder for one test, removed afterwards unless a REQUIRE failed inside its scope
// or PROMPTOPS_KEEP_TEST_DIRS=1 (then its path is printed so it can be inspected).
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  // Write `content` to `relative` below the folder, creating parent folders.
  std::filesystem::path write(const std::string& relative, std::string_view content) const;
  // Read `relative` below the folder.
  std::string read(const std::string& relative) const;

private:
  std::filesystem::path m_path;
};

// The folder of fixture data (tests/data).
std::filesystem::path test_data_dir();

} // namespace promptops::test
