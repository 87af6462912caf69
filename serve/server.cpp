#include "serve/server.hpp"

#include "serve/prompt_service.hpp"
#include "serve/request_deadline.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <optional>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace promptops::serve {

Address parse_address(std::string_view text) {
  const auto bad = [&] {
    return UsageError("invalid address \"" + std::string(text) +
                      "\": use HOST:PORT, e.g. 127.0.0.1:8700 (port 0 picks a free one)");
  };
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    throw bad();
  }
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      throw bad();
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw bad(); // an IPv6 host needs brackets, or the port is ambiguous
  }
  const std::string_view port_text = text.substr(colon + 1);
  int port = -1;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    throw bad();
  }
  return Address{std::string(host), port};
}

std::string format_address(const Address& address) {
  const bool ipv6 = address.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

namespace {

constexpr const char* k_json = "application/json";

// One request as received, kept from its request line to its answer (MHD's per-request
// context): the raw request target, which this file decodes itself (MHD's own decoding ends
// the path at a "%00", so "a%00b" would be served as "a"), and whether its headers were seen.
struct Request {
  std::string target;
  bool headers_seen = false;
};

// An answer and whether it carries "Allow: GET, HEAD" (the 405s).
struct Answer {
  Reply reply;
  bool allow = false;
};

// Percent-decode `text` ("+" as a space too in a query); a "%" not followed by two hex digits
// stays as it is. NUL and other control bytes come through, for the service's name check.
std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned int byte = 0;
    const char* digits = text.data() + i + 1;
    if (text[i] == '%' && i + 2 < text.size() &&
        std::from_chars(digits, digits + 2, byte, 16).ptr == digits + 2) {
      out += static_cast<char>(byte);
      i += 2;
    } else {
      out += plus_is_space && text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

// The decoded value of the first `name` parameter of `query`, or std::nullopt.
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    const std::size_t eq = part.find('=');
    if (percent_decode(part.substr(0, eq), true) == name) {
      return eq == std::string_view::npos ? std::string()
                                          : percent_decode(part.substr(eq + 1), true);
    }
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return std::nullopt;
}

std::string status_problem(int status, const std::string& path) {
  switch (status) {
  case 404:
    return "no such path \"" + path +
           "\" (the API: GET /v1/prompts, GET /v1/prompts/{name}, GET /healthz)";
  case 405:
    return "method not allowed: the API is read-only (GET and HEAD)";
  case 413:
    return "request body not accepted: the API is read-only";
  case 414:
    return "request line too long";
  case 431:
    return "too many header fields";
  default:
    return "bad request (HTTP status " + std::to_string(status) + ")";
  }
}

Answer problem(int status, const std::string& path = "") {
  return Answer{Reply{status, error_body(status_problem(status, path)), ""}, status == 405};
}

std::string header(MHD_Connection* connection, const char* name) {
  const char* value = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
  return value != nullptr ? value : "";
}

// The size of the body a request declares: 0 for none, SIZE_MAX for a chunked one (any size).
// MHD has already answered 400 to a Content-Length that is not a number.
std::size_t declared_body(MHD_Connection* connection) {
  if (!header(connection, MHD_HTTP_HEADER_TRANSFER_ENCODING).empty()) {
    return SIZE_MAX;
  }
  const std::string length = header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
  std::size_t size = 0;
  const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), size);
  return ec == std::errc() || length.empty() ? size : SIZE_MAX;
}

// Everything the callbacks need, passed to them as MHD's closure pointer.
struct Context {
  Context(registry::Registry registry, const ServerLimits& server_limits)
      : service(std::move(registry)), limits(server_limits),
        deadlines(server_limits.request_deadline) {}

  // The answer to one request whose headers have all arrived.
  Answer answer(MHD_Connection* connection, std::string_view method,
                const std::string& target) const {
    // No body is ever read (the connection is closed after the answer instead): one declared
    // over the cap is refused as too large whatever the method, as it was before.
    if (target.size() > limits.uri_bytes) {
      return problem(414);
    }
    if (declared_body(connection) > limits.body_bytes) {
      return problem(413);
    }
    if (method != "GET" && method != "HEAD") {
      return problem(405);
    }
    // Also capped by the memory limit, but that allows several hundred short lines.
    if (static_cast<std::size_t>(MHD_get_connection_values(connection, MHD_HEADER_KIND, nullptr,
                                                           nullptr)) > limits.header_fields) {
      return problem(431);
    }
    if (declared_body(connection) > 0) {
      return problem(413);
    }
    const std::size_t question = target.find('?');
    const std::string path = percent_decode(std::string_view(target).substr(0, question), false);
    std::optional<std::string> env;
    if (question != std::string::npos) {
      env = query_param(std::string_view(target).substr(question + 1), "env");
    }
    const std::string if_none_match = header(connection, MHD_HTTP_HEADER_IF_NONE_MATCH);
    constexpr std::string_view prefix = "/v1/prompts/";
    if (path == "/healthz") {
      return Answer{Reply{200, R"({"status":"ok"})", ""}};
    }
    if (path == "/v1/prompts") {
      return Answer{service.list(env, if_none_match)};
    }
    if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0) {
      return Answer{
          service.prompt(std::string_view(path).substr(prefix.size()), env, if_none_match)};
    }
    return problem(404, path);
  }

  PromptService service;
  ServerLimits limits;
  mutable RequestDeadlines deadlines;
};

MHD_Result send(MHD_Connection* connection, const Answer& answer) {
  const Reply& reply = answer.reply;
  // Copied, so the answer's lifetime ends here. MHD never compresses.
  MHD_Response* response = MHD_create_response_from_buffer(
      reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) {
    return MHD_NO; // out of memory: MHD closes the connection
  }
  // Clients must revalidate (cheaply, with If-None-Match): a promotion shows at once.
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  if (!reply.body.empty()) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, k_json);
  }
  if (!reply.etag.empty()) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, reply.etag.c_str());
  }
  if (answer.allow) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  }
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned int>(reply.status), response);
  MHD_destroy_response(response);
  return queued;
}

// MHD's callbacks are C: no exception may leave them.

void* on_request_line(void*, const char* uri, MHD_Connection*) {
  try {
    return new Request{uri};
  } catch (...) {
    return nullptr; // answered 500 below
  }
}

// Called once the headers are in, then (if it did not answer) once the whole request is.
MHD_Result on_request(void* cls, MHD_Connection* connection, const char*, const char* method,
                      const char*, const char*, std::size_t*, void** request_context) {
  auto* request = static_cast<Request*>(*request_context);
  try {
    if (request == nullptr) {
      throw std::bad_alloc();
    }
    // MHD 0.9.75 closes the connection after an answer given on the first call, without
    // reading the body: right for a request with a body (all refused, none read), while a
    // request without one is answered on the second call and keeps its connection alive.
    if (!request->headers_seen && declared_body(connection) == 0) {
      request->headers_seen = true;
      return MHD_YES;
    }
    return send(connection,
                static_cast<const Context*>(cls)->answer(connection, method, request->target));
  } catch (const std::exception& e) {
    try {
      return send(connection,
                  Answer{Reply{500, error_body(std::string("internal error: ") + e.what()), ""}});
    } catch (...) {
      return MHD_NO;
    }
  }
}

void on_completed(void* cls, MHD_Connection* connection, void** request_context,
                  MHD_RequestTerminationCode) {
  delete static_cast<Request*>(*request_context);
  *request_context = nullptr;
  static_cast<Context*>(cls)->deadlines.answered(connection);
}

void on_connection(void* cls, MHD_Connection* connection, void**,
                   MHD_ConnectionNotificationCode code) {
  auto& deadlines = static_cast<Context*>(cls)->deadlines;
  try {
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
      if (info != nullptr) {
        deadlines.opened(connection, info->connect_fd);
      }
    } else {
      // MHD calls this before it closes the socket (daemon.c, MHD_cleanup_connections).
      deadlines.closed(connection);
    }
  } catch (...) {
    // Out of memory for one entry: that connection has only the idle timeout.
  }
}

// A listening socket bound to `address` (SO_REUSEADDR only: with SO_REUSEPORT a second server on
// the same port would start "successfully" and the kernel would share connections between the
// two). Throws RunError naming the address and the reason.
int listen_on(const Address& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  const int resolved = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  if (resolved != 0) {
    throw RunError("cannot listen on " + format_address(address) + ": " + ::gai_strerror(resolved));
  }
  int error = 0;
  int fd = -1;
  for (const addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      error = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    throw RunError("cannot listen on " + format_address(address) +
                   (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return -1;
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

// The global connection cap, kept below the descriptors the process may open (each connection
// is one, and MHD needs a few of its own per thread).
unsigned int connection_cap(std::size_t wanted, std::size_t threads) {
  rlimit limit{};
  std::size_t cap = wanted;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const std::size_t spare = 32 + 4 * threads;
    cap = std::min<std::size_t>(cap, limit.rlim_cur > spare ? limit.rlim_cur - spare : 1);
  }
  return static_cast<unsigned int>(std::max<std::size_t>(cap, 1));
}

} // namespace

struct Server::Impl {
  Impl(registry::Registry registry, ServerOptions opts)
      : context(std::move(registry), opts.limits), options(std::move(opts)) {}

  Context context;
  ServerOptions options;
  MHD_Daemon* daemon = nullptr;
};

Server::Server(registry::Registry registry, ServerOptions options)
    : m_impl(std::make_unique<Impl>(std::move(registry), std::move(options))) {}

Server::~Server() {
  stop();
}

Address Server::start() {
  const ServerOptions& options = m_impl->options;
  const ServerLimits& limits = options.limits;
  std::size_t threads = options.threads;
  if (threads == 0) {
    // Event loops, not a thread per client. Two per core: a request waits only behind the
    // answers of its own loop's connections, so a few loops keep that wait short.
    threads = std::clamp<std::size_t>(std::size_t{2} * std::thread::hardware_concurrency(), 2, 4);
  }
  const int fd = listen_on(options.address);
  Address bound = options.address;
  bound.port = bound_port(fd);

  // epoll in each of `threads` loops: a slow or stalled client costs a socket and its
  // connection's memory, never a thread. MHD takes over `fd` (and closes it when stopped).
  // No MHD_USE_ERROR_LOG: it would write a line to stderr for every refused connection.
  m_impl->daemon = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD, 0, nullptr, nullptr, &on_request, &m_impl->context,
      MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned int>(threads),
      MHD_OPTION_CONNECTION_LIMIT, connection_cap(limits.connections, threads),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<unsigned int>(limits.connections_per_client),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<std::size_t>(limits.connection_memory),
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned int>(limits.idle_timeout.count()),
      MHD_OPTION_URI_LOG_CALLBACK, &on_request_line, nullptr, MHD_OPTION_NOTIFY_COMPLETED,
      &on_completed, &m_impl->context, MHD_OPTION_NOTIFY_CONNECTION, &on_connection,
      &m_impl->context, MHD_OPTION_END);
  if (m_impl->daemon == nullptr) {
    throw RunError("cannot listen on " + format_address(bound) + ": the HTTP server did not start");
  }
  return bound;
}

bool Server::running() const {
  return m_impl->daemon != nullptr;
}

void Server::stop() {
  if (m_impl->daemon != nullptr) {
    MHD_stop_daemon(m_impl->daemon);
    m_impl->daemon = nullptr;
  }
}

} // namespace promptops::serve
