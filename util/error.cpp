#include "util/error.hpp"

namespace promptops {

std::string format_location(const std::string& path, SourcePosition position) {
  std::string out = path;
  if (position.line > 0) {
    out += ':' + std::to_string(position.line);
    if (position.column > 0) {
      out += ':' + std::to_string(position.column);
    }
  }
  return out;
}

InputError::InputError(std::string path, SourcePosition position, std::string problem)
    : Error(path.empty() ? problem : format_location(path, position) + ": " + problem, 2),
      m_path(std::move(path)), m_position(position), m_problem(std::move(problem)) {}

InputError::InputError(std::string problem) : Error(problem, 2), m_problem(std::move(problem)) {}

namespace {
std::string join_messages(const std::vector<InputError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) {
      out += '\n';
    }
    out += e.what();
  }
  return out;
}
} // namespace

InputErrors::InputErrors(std::vector<InputError> errors)
    : Error(join_messages(errors), 2), m_errors(std::move(errors)) {}

void throw_if_any(std::vector<InputError> errors) {
  if (errors.size() == 1) {
    throw errors.front();
  }
  if (!errors.empty()) {
    throw InputErrors(std::move(errors));
  }
}

} // namespace promptops
