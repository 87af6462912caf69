#pragma once

// summary.json's drift entries of one kind. The tests against the fake provider on loopback
// check format drift exactly; latency drift between two runs there depends on how busy the
// machine is (a sanitizer build's first connections take 150 ms, the next 10), so they leave it
// to the tests that plant it.

#include <nlohmann/json.hpp>

#include <string>

namespace promptops::test {

inline nlohmann::json drift_of_kind(const nlohmann::json& summary,
                                    const std::string& kind = "format") {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : summary.value("drift", nlohmann::json::array())) {
    if (d.value("kind", std::string("format")) == kind) {
      out.push_back(d);
    }
  }
  return out;
}

} // namespace promptops::test
