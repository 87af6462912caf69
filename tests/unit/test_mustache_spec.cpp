#include "mustache/template.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

// The Mustache spec's required modules, one data file each in tests/data/mustache-spec,
// transcribed from the spec's specs/*.yml. Each case renders with the spec's settings: HTML
// escaping and the empty string for an unknown partial.

namespace {

using nlohmann::json;
using promptops::mustache::Escape;
using promptops::mustache::MissingPartial;
using promptops::mustache::RenderOptions;
using promptops::mustache::Template;

constexpr std::array<const char*, 6> k_modules = {"interpolation", "sections", "inverted",
                                                  "comments",      "partials", "delimiters"};

// The number of tests in each required module of the spec (v1.4): a data file that lost a
// case fails here instead of raising the pass rate.
constexpr std::array<std::size_t, 6> k_module_sizes = {42, 34, 22, 12, 12, 14};

json load_module(const std::string& module) {
  const auto path = promptops::test::test_data_dir() / "mustache-spec" / (module + ".json");
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot read " + path.string());
  }
  return json::parse(in);
}

// Render one spec case; a syntax or render error becomes the output, so it shows in the
// failure message.
std::string render_case(const json& test) {
  RenderOptions options;
  options.escape = Escape::html;
  options.missing_partial = MissingPartial::empty;
  const json partials = test.value("partials", json::object());
  options.partials = [partials](const std::string& name) -> std::optional<std::string> {
    const auto found = partials.find(name);
    if (found == partials.end()) {
      return std::nullopt;
    }
    return found->get<std::string>();
  };
  try {
    return Template::parse(test.at("template").get<std::string>()).render(test.at("data"), options);
  } catch (const std::exception& e) {
    return std::string("<error: ") + e.what() + ">";
  }
}

void check_module(const std::string& module) {
  const json spec = load_module(module);
  for (const json& test : spec.at("tests")) {
    const std::string name = test.at("name").get<std::string>();
    DYNAMIC_SECTION(module << ": " << name) {
      INFO("desc: " << test.at("desc").get<std::string>());
      INFO("template: " << test.at("template").dump());
      CHECK(render_case(test) == test.at("expected").get<std::string>());
    }
  }
}

} // namespace

TEST_CASE("mustache::Template::render, spec interpolation", "[mustache][spec]") {
  check_module("interpolation");
}

TEST_CASE("mustache::Template::render, spec sections", "[mustache][spec]") {
  check_module("sections");
}

TEST_CASE("mustache::Template::render, spec inverted", "[mustache][spec]") {
  check_module("inverted");
}

TEST_CASE("mustache::Template::render, spec comments", "[mustache][spec]") {
  check_module("comments");
}

TEST_CASE("mustache::Template::render, spec partials", "[mustache][spec]") {
  check_module("partials");
}

TEST_CASE("mustache::Template::render, spec delimiters", "[mustache][spec]") {
  check_module("delimiters");
}

TEST_CASE("mustache::Template::render, spec conformance of every required module",
          "[mustache][spec]") {
  std::size_t total = 0;
  std::size_t passed = 0;
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < k_modules.size(); ++i) {
    const json spec = load_module(k_modules[i]);
    CHECK(spec.at("tests").size() == k_module_sizes[i]);
    for (const json& test : spec.at("tests")) {
      ++total;
      if (render_case(test) == test.at("expected").get<std::string>()) {
        ++passed;
      } else {
        failures.push_back(std::string(k_modules[i]) + ": " + test.at("name").get<std::string>());
      }
    }
  }
  std::cout << "mustache spec: " << passed << "/" << total << "\n";
  for (const auto& failure : failures) {
    std::cout << "  failed: " << failure << "\n";
  }
  CHECK(total == 136);
  REQUIRE(passed == total);
}
