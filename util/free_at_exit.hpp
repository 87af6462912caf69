#pragma once

#include <utility>

namespace promptops::util {

// Leaves `object` to the end of the process instead of destroying it now, as compilers do with
// their syntax trees: a command that ends right after using 100,000 parsed result lines would
// otherwise spend a fifth of its time in their destructors. The memory goes back to the system
// with the process. Under AddressSanitizer, whose leak check would report it, it is destroyed
// at once.
template <class T> void free_at_exit(T&& object) {
#if defined(__SANITIZE_ADDRESS__)
  [[maybe_unused]] const auto destroyed_now = std::forward<T>(object);
#else
  static_cast<void>(new auto(std::forward<T>(object))); // never deleted, on purpose
#endif
}

} // namespace promptops::util
