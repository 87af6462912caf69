#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace promptops::util {

// Read the whole file at `path`. Throws InputError naming `display_path` (or `path`) and the
// system's reason when it cannot be read.
std::string read_file(const std::filesystem::path& path, const std::string& display_path = {});

// Read the file if it exists; std::nullopt if it does not. Other failures throw InputError.
std::optional<std::string> read_file_if_exists(const std::filesystem::path& path,
                                               const std::string& display_path = {});

// Write `content` to `path` through a temporary file in the same folder and a rename, so a
// reader never sees a half-written file. Creates missing parent folders. Throws Error.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// Write all of `data` to file descriptor `fd`, going on after short writes and EINTR. False on
// any other failure, with errno set.
bool write_all(int fd, std::string_view data);

} // namespace promptops::util
