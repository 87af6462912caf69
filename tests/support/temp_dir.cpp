#include "tests/support/temp_dir.hpp"

#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace promptops::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      (base && *base ? std::string(base) : std::string("/tmp")) + "/promptops-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  m_path = std::filesystem::canonical(pattern);
}

TempDir::~TempDir() {
  // A REQUIRE that fails unwinds through here: keep the folder to look at. So does
  // PROMPTOPS_KEEP_TEST_DIRS=1.
  const char* keep = std::getenv("PROMPTOPS_KEEP_TEST_DIRS");
  if (std::uncaught_exceptions() > 0 || (keep != nullptr && *keep == '1')) {
    std::cerr << "kept test folder " << m_path << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

std::filesystem::path TempDir::write(const std::string& relative, std::string_view content) const {
  const auto full = m_path / relative;
  std::filesystem::create_directories(full.parent_path());
  std::ofstream out(full, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) {
    throw std::runtime_error("cannot write " + full.string());
  }
  return full;
}

std::string TempDir::read(const std::string& relative) const {
  std::ifstream in(m_path / relative, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path test_data_dir() {
  return PROMPTOPS_TEST_DATA;
}

} // namespace promptops::test
