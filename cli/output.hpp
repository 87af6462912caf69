#pragma once

#include <string_view>

namespace promptops::cli {

// Write to stdout exactly, with no newline added. Throws Error when stdout is gone.
void print(std::string_view text);
// Write to stderr (notes and warnings; errors go through cli::run).
void print_note(std::string_view text);
// True when colour is wanted on stdout: a TTY, and NO_COLOR unset or empty.
bool want_color();

} // namespace promptops::cli
