#include "tests/support/canned_server.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace promptops::test {
namespace {

// Sends all of `data`; false when the client has gone (or stalled for 10 s).
bool send_all(int c, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(c, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool send_all(int c, const std::string& data) {
  return send_all(c, data.data(), data.size());
}

} // namespace

CannedServer::CannedServer(Answer answer, Connections connections)
    : m_answer(std::move(answer)), m_connections(connections) {
  m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (m_listen < 0 || ::bind(m_listen, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(m_listen, 64) != 0 ||
      ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("CannedServer: cannot listen on 127.0.0.1");
  }
  m_port = ntohs(a.sin_port);
  m_thread = std::thread([this] { serve(); });
}

CannedServer::~CannedServer() {
  m_stop = true;
  m_thread.join();
  for (std::thread& t : m_workers) {
    t.join();
  }
  ::close(m_listen);
}

std::string CannedServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(m_port) + "/v1";
}

void CannedServer::serve() {
  while (!m_stop) {
    pollfd p{m_listen, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) {
      continue;
    }
    const int c = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      continue;
    }
    if (m_connections == Connections::concurrent) {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_workers.emplace_back([this, c] {
        answer(c);
        ::close(c);
        ++m_answered;
      });
      continue;
    }
    answer(c);
    ::close(c);
    ++m_answered;
  }
}

void CannedServer::answer(int c) {
  timeval tv{5, 0};
  ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string request;
  char buf[65536];
  std::size_t need = std::string::npos;
  while (need == std::string::npos || request.size() < need) {
    const ssize_t n = ::recv(c, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    request.append(buf, static_cast<std::size_t>(n));
    const auto end = request.find("\r\n\r\n");
    if (need == std::string::npos && end != std::string::npos) {
      std::string head = request.substr(0, end);
      for (auto& ch : head) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
      std::size_t length = 0;
      if (const auto at = head.find("content-length:"); at != std::string::npos) {
        length = std::stoul(head.substr(at + 15));
      }
      need = end + 4 + length;
    }
  }
  const Reply reply = m_answer(request);
  timeval send_limit{10, 0}; // a client that stopped reading frees this thread
  ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &send_limit, sizeof send_limit);
  const std::uint64_t length = reply.content_length.value_or(
      reply.body.size() + reply.repeat.size() * reply.repeats + reply.tail.size());
  if (!send_all(c, "HTTP/1.1 " + std::to_string(reply.status) +
                       " Canned\r\nContent-Type: " + reply.content_type + "\r\n" + reply.headers +
                       "Connection: close\r\nContent-Length: " + std::to_string(length) +
                       "\r\n\r\n" + reply.body)) {
    return;
  }
  for (std::uint64_t i = 0; i < reply.repeats && !m_stop; ++i) {
    if (i > 0 && reply.pause_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(reply.pause_ms));
    }
    if (!send_all(c, reply.repeat)) {
      return; // the client gave up on the body: it was too big
    }
  }
  (void)send_all(c, reply.tail);
}

std::string case_of(const std::string& request) {
  const auto at = request.find("[[case:");
  if (at == std::string::npos) {
    return "";
  }
  const auto end = request.find("]]", at);
  return request.substr(at + 7, end - at - 7);
}

// Raw HTTP on a fresh connection: send `request`, read one response (to its Content-Length),
// or until the server closes or 20 s pass.
std::string http_raw(int port, const std::string& request) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{20, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    (void)::send(s, request.data(), request.size(), MSG_NOSIGNAL);
    // No half-close: httplib does not answer a client that has shut its side.
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::recv(s, buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      const auto end = out.find("\r\n\r\n");
      const auto length = out.find("Content-Length: ");
      if (end != std::string::npos && length != std::string::npos && length < end &&
          out.size() >= end + 4 + std::stoul(out.substr(length + 16))) {
        break; // a kept-alive connection stays open
      }
    }
  }
  ::close(s);
  return out;
}

} // namespace promptops::test
