#include "util/json_lines.hpp"

#include "util/lines.hpp"
#include "util/simdjson_parse.hpp"

#include <algorithm>
#include <string>
#include <thread>

namespace promptops::util {

namespace {

using nlohmann::ordered_json;

template <class Json = ordered_json> Json to_json(const simdjson::dom::element& e) {
  switch (e.type()) {
  case simdjson::dom::element_type::OBJECT: {
    Json out = Json::object();
    for (const simdjson::dom::key_value_pair member : simdjson::dom::object(e)) {
      // A repeated key keeps its last value, as nlohmann's parser does.
      out[std::string(member.key)] = to_json<Json>(member.value);
    }
    return out;
  }
  case simdjson::dom::element_type::ARRAY: {
    Json out = Json::array();
    for (const simdjson::dom::element item : simdjson::dom::array(e)) {
      out.push_back(to_json<Json>(item));
    }
    return out;
  }
  case simdjson::dom::element_type::STRING:
    return std::string(std::string_view(e));
  case simdjson::dom::element_type::INT64:
    return std::int64_t(e);
  case simdjson::dom::element_type::UINT64:
    return std::uint64_t(e);
  case simdjson::dom::element_type::DOUBLE:
    return double(e);
  case simdjson::dom::element_type::BOOL:
    return bool(e);
  default:
    return nullptr;
  }
}

} // namespace

simdjson::error_code parse_reused(std::string_view text, simdjson::dom::element& out) {
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  if (padded.size() < text.size() + simdjson::SIMDJSON_PADDING) {
    padded.resize(text.size() + simdjson::SIMDJSON_PADDING);
  }
  std::copy(text.begin(), text.end(), padded.begin());
  return parser.parse(padded.data(), text.size(), /*realloc_if_needed=*/false).get(out);
}

bool parse_json(std::string_view text, nlohmann::json& out) {
  simdjson::dom::element root;
  if (parse_reused(text, root) == simdjson::SUCCESS) {
    out = to_json<nlohmann::json>(root);
    return true;
  }
  // Whatever simdjson refuses (a big integer, nesting past its depth limit, bad JSON), nlohmann
  // decides: the texts accepted and the values are nlohmann's.
  out = nlohmann::json::parse(text, nullptr, false);
  return !out.is_discarded();
}

bool parse_json_object_line(std::string_view line, ordered_json& out,
                            std::initializer_list<std::string_view> skip) {
  simdjson::dom::element root;
  const simdjson::error_code error = parse_reused(line, root);
  if (for_nlohmann(error)) {
    out = ordered_json::parse(line, nullptr, false);
    return out.is_object();
  }
  if (error || root.type() != simdjson::dom::element_type::OBJECT) {
    return false;
  }
  out = ordered_json::object();
  for (const simdjson::dom::key_value_pair member : simdjson::dom::object(root)) {
    if (std::find(skip.begin(), skip.end(), member.key) != skip.end()) {
      continue;
    }
    out[std::string(member.key)] = to_json(member.value);
  }
  return true;
}

std::vector<JsonLine> parse_json_object_lines(std::string_view text,
                                              std::initializer_list<std::string_view> skip) {
  std::vector<JsonLine> lines;
  for_each_line(text, [&lines](std::size_t number, std::string_view line) {
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      lines.push_back({number, line, false, {}});
    }
  });
  const auto parse = [&lines, skip](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      lines[i].parsed = parse_json_object_line(lines[i].text, lines[i].value, skip);
    }
  };
  // Below a few thousand lines a thread costs more than it saves.
  if (lines.size() < 4096) {
    parse(0, lines.size());
    return lines;
  }
  const std::size_t half = lines.size() / 2;
  std::thread first([&parse, half] { parse(0, half); });
  parse(half, lines.size());
  first.join();
  return lines;
}

} // namespace promptops::util
