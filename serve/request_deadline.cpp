#include "serve/request_deadline.hpp"

#include <sys/socket.h>

namespace promptops::serve {

namespace {

// How often the deadlines are checked: a request is cut at most this long after its deadline.
constexpr std::chrono::milliseconds k_tick{100};

} // namespace

RequestDeadlines::RequestDeadlines(std::chrono::milliseconds deadline)
    : m_deadline(deadline), m_thread([this] { watch(); }) {}

RequestDeadlines::~RequestDeadlines() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  m_thread.join();
}

void RequestDeadlines::opened(const void* key, int fd) {
  const std::lock_guard lock(m_mutex);
  m_entries[key] = Entry{fd, std::chrono::steady_clock::now() + m_deadline, false};
}

void RequestDeadlines::answered(const void* key) {
  const std::lock_guard lock(m_mutex);
  const auto it = m_entries.find(key);
  if (it != m_entries.end()) {
    it->second.deadline = std::chrono::steady_clock::now() + m_deadline;
  }
}

void RequestDeadlines::closed(const void* key) {
  const std::lock_guard lock(m_mutex);
  m_entries.erase(key);
}

void RequestDeadlines::watch() {
  std::unique_lock lock(m_mutex);
  while (!m_wake.wait_for(lock, k_tick, [this] { return m_stopping; })) {
    const auto now = std::chrono::steady_clock::now();
    for (auto& [key, entry] : m_entries) {
      // Under the mutex that closed() takes, and the library calls closed() before it closes the
      // descriptor: the fd is still this connection's, never a reused number of another one.
      if (!entry.cut && now >= entry.deadline) {
        ::shutdown(entry.fd, SHUT_RDWR);
        entry.cut = true;
      }
    }
  }
}

} // namespace promptops::serve
