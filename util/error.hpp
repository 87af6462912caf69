#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace promptops {

// The one hierarchy of errors that abort a command. Only cli::run catches them; it prints
// "promptops: error: <what()>" and exits with exit_code(). Expected outcomes (a failing case,
// a failed gate) are values, not exceptions.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string& message, int exit_code = 2)
      : std::runtime_error(message), m_exit_code(exit_code) {}
  int exit_code() const noexcept { return m_exit_code; }

private:
  int m_exit_code;
};

// Bad command-line usage (exit 2).
class UsageError : public Error {
public:
  explicit UsageError(const std::string& message) : Error(message, 2) {}
};

// A position in an input file: 1-based line and column; 0 means unknown.
struct SourcePosition {
  std::size_t line = 0;
  std::size_t column = 0;
};

// Bad input in a file (exit 2). what() reads "path:line:col: problem" (line and column are
// left out when unknown), so every message names the file and the place.
class InputError : public Error {
public:
  InputError(std::string path, SourcePosition position, std::string problem);
  explicit InputError(std::string problem);

  const std::string& path() const noexcept { return m_path; }
  SourcePosition position() const noexcept { return m_position; }
  const std::string& problem() const noexcept { return m_problem; }

private:
  std::string m_path;
  SourcePosition m_position;
  std::string m_problem;
};

// Several input errors found in one pass (validate reports every problem, not the first).
// cli::run prints each on its own line.
class InputErrors : public Error {
public:
  explicit InputErrors(std::vector<InputError> errors);
  const std::vector<InputError>& errors() const noexcept { return m_errors; }

private:
  std::vector<InputError> m_errors;
};

// Throw `errors` as one InputError when there is one, as InputErrors when there are more;
// nothing when empty.
void throw_if_any(std::vector<InputError> errors);

// The run could not complete: a provider unreachable after retries, a registry conflict
// (exit 3).
class RunError : public Error {
public:
  explicit RunError(const std::string& message) : Error(message, 3) {}
};

// Nothing to evaluate (exit 4).
class NothingToDoError : public Error {
public:
  explicit NothingToDoError(const std::string& message) : Error(message, 4) {}
};

// Format "path:line:col: problem", leaving out the unknown parts.
std::string format_location(const std::string& path, SourcePosition position);

} // namespace promptops
