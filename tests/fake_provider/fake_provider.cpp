#include "tests/fake_provider/fake_provider.hpp"

#include "util/json_write.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <set>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace promptops::fake {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
using Milliseconds = std::chrono::milliseconds;

constexpr const char* k_json = "application/json";
constexpr const char* k_openai_path = "/v1/chat/completions";
constexpr const char* k_anthropic_path = "/v1/messages";
// Not the time of the answer: identical requests get byte-identical answers.
constexpr std::int64_t k_created = 1700000000;
// How often a hung request looks whether its client has given up.
constexpr Milliseconds k_hang_poll{50};

enum class Wire { openai, anthropic };

// Set `body` as the JSON answer, sent as it is. httplib compresses a body given to
// `set_content` whenever the client accepts it, and libcurl (CURLOPT_ACCEPT_ENCODING "", as
// promptops sets it) accepts brotli, which httplib runs at its slowest quality: 8.8 million
// instructions for a 300-byte answer, 97% of the fake's CPU time. A body served by a content
// provider of known length is never compressed and goes out with the same Content-Length.
void set_body(httplib::Response& res, std::string body, const std::string& content_type) {
  if (body.empty()) {
    res.set_content(body, content_type);
    return;
  }
  const std::size_t length = body.size();
  res.set_content_provider(
      length, content_type,
      [body = std::move(body)](std::size_t offset, std::size_t size, httplib::DataSink& sink) {
        return offset < body.size() &&
               sink.write(body.data() + offset, std::min(size, body.size() - offset));
      });
}

void set_json(httplib::Response& res, std::string body) {
  set_body(res, std::move(body), k_json);
}

// ---------------------------------------------------------------------------------------------
// Connections: the sockets of the connections being served, so that a request can be cut
// without an answer (httplib has no API for it) and the destructor can end idle kept-alive
// connections at once instead of after httplib's keep-alive timeout.
//
// httplib does not tell a handler its socket, so it is looked up in /proc/self/fd by its
// address pair: two system calls per open descriptor. That is done only when a request needs
// its socket (drop, hang, the server stopping during its latency), and once for all
// connections when the server stops; an ordinary answer only registers its connection's peer
// address (on the connection's first request), so that the stop knows which sockets are ours.
// (Looking up every connection's socket on its first request took about 180 system calls
// with 64 connections open.)

int port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return static_cast<int>(ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port));
  }
  if (address.ss_family == AF_INET6) {
    return static_cast<int>(ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port));
  }
  return -1;
}

std::string host_of(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw =
      address.ss_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(address).sin_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(address).sin6_addr);
  return inet_ntop(address.ss_family, raw, text, sizeof text) != nullptr ? std::string(text)
                                                                         : std::string();
}

// The peer of `fd` if it is a connected socket bound to `local_port`.
std::optional<sockaddr_storage> peer_on_port(int fd, int local_port) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 ||
      port_of(local) != local_port) {
    return std::nullopt;
  }
  sockaddr_storage peer{};
  length = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) {
    return std::nullopt;
  }
  return peer;
}

// Calls `visit(fd, peer)` for every connected socket of the process bound to `local_port`,
// until it returns true.
template <typename Visit> void for_each_connection(int local_port, Visit visit) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return;
  }
  while (const dirent* entry = readdir(dir)) {
    int fd = -1;
    const std::string_view name = entry->d_name;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc() ||
        fd == dirfd(dir)) {
      continue;
    }
    const std::optional<sockaddr_storage> peer = peer_on_port(fd, local_port);
    if (peer && visit(fd, *peer)) {
      break;
    }
  }
  closedir(dir);
}

// The socket bound to `local_port` whose peer is `remote_addr`:`remote_port`, or -1.
int find_socket(int local_port, const std::string& remote_addr, int remote_port) {
  int found = -1;
  for_each_connection(local_port, [&](int fd, const sockaddr_storage& peer) {
    if (port_of(peer) == remote_port && host_of(peer) == remote_addr) {
      found = fd;
    }
    return found >= 0;
  });
  return found;
}

using Peer = std::pair<std::string, int>; // a client's address and port

// The connection the current worker thread serves.
struct Connection {
  // Our own duplicate of its socket once a request needed it (so that cutting it can never
  // hit a descriptor that httplib closed and the process reused); -1 before, or if not found.
  int socket = -1;
  int requests = 0; // requests begun on it (kept alive)
  Peer peer;        // registered in `Connections` from its first request
};

thread_local Connection t_connection;

class Connections {
public:
  // Count a request on the current worker's connection: how many came on it before.
  int begin_request(const httplib::Request& req) {
    if (t_connection.requests == 0) {
      t_connection.peer = {req.remote_addr, req.remote_port};
      bool cut_now = false;
      {
        const std::lock_guard lock(m_mutex);
        m_peers.insert(t_connection.peer);
        cut_now = m_cut_all;
      }
      if (cut_now) {
        if (const int socket = socket_of(req); socket >= 0) {
          cut(socket);
        }
      }
    }
    return t_connection.requests++;
  }

  // The socket of the connection `req` came on (the current worker's), or -1 if it cannot be
  // found.
  static int socket_of(const httplib::Request& req) {
    if (t_connection.socket < 0) {
      const int socket = find_socket(req.local_port, req.remote_addr, req.remote_port);
      t_connection.socket = socket < 0 ? -1 : fcntl(socket, F_DUPFD_CLOEXEC, 0);
    }
    return t_connection.socket;
  }

  // Called by the worker once httplib is done with its connection.
  void release_current() {
    if (t_connection.requests > 0) {
      const std::lock_guard lock(m_mutex);
      m_peers.erase(t_connection.peer);
    }
    if (t_connection.socket >= 0) {
      ::close(t_connection.socket);
    }
    t_connection = Connection{};
  }

  // Close `connection` in both directions: the client sees it end without an answer.
  static void cut(int connection) { ::shutdown(connection, SHUT_RDWR); }

  // Cut every connection to `local_port` that has had a request, and any from now on.
  void cut_all(int local_port) {
    std::set<Peer> peers;
    {
      const std::lock_guard lock(m_mutex);
      m_cut_all = true;
      peers = m_peers;
    }
    const auto ours = [&](const sockaddr_storage& peer) {
      return peers.contains({host_of(peer), port_of(peer)});
    };
    for_each_connection(local_port, [&](int fd, const sockaddr_storage& peer) {
      if (!ours(peer)) {
        return false;
      }
      // Checked again on our own duplicate: httplib may have closed `fd` meanwhile, and the
      // process reused the number.
      const int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (own >= 0) {
        const std::optional<sockaddr_storage> again = peer_on_port(own, local_port);
        if (again && ours(*again)) {
          ::shutdown(own, SHUT_RDWR);
        }
        ::close(own);
      }
      return false;
    });
  }

  // True when the client has closed (or reset) `connection`.
  static bool peer_closed(int connection) {
    pollfd watch{connection, POLLRDHUP, 0};
    return ::poll(&watch, 1, 0) > 0 && (watch.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

private:
  std::mutex m_mutex;
  std::set<Peer> m_peers; // of the connections being served
  bool m_cut_all = false;
};

// httplib's thread pool, telling `Connections` when a connection is done with.
class ConnectionPool final : public httplib::TaskQueue {
public:
  ConnectionPool(std::size_t threads, Connections& connections)
      : m_pool(threads), m_connections(connections) {}

  void enqueue(std::function<void()> serve_connection) override {
    m_pool.enqueue([this, serve_connection = std::move(serve_connection)] {
      serve_connection();
      m_connections.release_current();
    });
  }
  void shutdown() override { m_pool.shutdown(); }

private:
  httplib::ThreadPool m_pool;
  Connections& m_connections;
};

// ---------------------------------------------------------------------------------------------
// Directives in the last user message.

enum class FaultKind { status, hang, malformed, truncated, drop };

struct Fault {
  FaultKind kind = FaultKind::status;
  int status = 0;
  int times = 1; // 0: always
  std::string retry_after;
  std::string retry_after_ms;
};

// A reply in one of the shapes real vendors send (docs/fake-provider.md, "Reply shapes").
enum class ShapeKind {
  tool_call,
  tool_call_text,
  length,
  refusal,
  reasoning_exhausted,
  empty,
  parts,
  content_filter,
  cached,
  error_200,
  quota,
  html,
  sse,
  bad_utf8,
  masked_key_401,
  echo_key,
};

struct Shape {
  ShapeKind kind = ShapeKind::tool_call;
  std::string tool;           // tool_call: "" takes the request's first tool, else "lookup"
  json args = json::object(); // tool_call: the arguments
  int code = 502;             // error_200: error.code
  int status = 200;           // html: the status sent
};

struct Directives {
  std::optional<std::string> reply;
  std::optional<Fault> fault;
  std::optional<Shape> shape;
  int latency_ms = 0;
};

// A directive that cannot be understood: the request gets a 400 that says why.
struct DirectiveError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) {
      ++i;
    }
    const std::size_t start = i;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) == 0) {
      ++i;
    }
    if (i > start) {
      words.emplace_back(text.substr(start, i - start));
    }
  }
  return words;
}

bool text_is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

std::optional<int> parse_count(std::string_view text) {
  int value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

bool is_number(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789.") == std::string_view::npos &&
         std::count(text.begin(), text.end(), '.') <= 1 && text != ".";
}

Fault parse_fault(std::string_view spec) {
  const std::vector<std::string> words = split_words(spec);
  if (words.empty()) {
    throw DirectiveError("empty fault directive");
  }
  Fault fault;
  const std::string& kind = words[0];
  if (kind == "429" || kind == "500" || kind == "503" || kind == "529") {
    fault.kind = FaultKind::status;
    fault.status = std::stoi(kind);
  } else if (kind == "hang") {
    fault.kind = FaultKind::hang;
  } else if (kind == "malformed") {
    fault.kind = FaultKind::malformed;
  } else if (kind == "truncated") {
    fault.kind = FaultKind::truncated;
  } else if (kind == "drop") {
    fault.kind = FaultKind::drop;
  } else {
    throw DirectiveError("unknown fault \"" + kind +
                         "\" (known: 429, 500, 503, 529, hang, malformed, truncated, drop)");
  }
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string_view word = words[i];
    if (word == "x*") {
      fault.times = 0;
    } else if (word.size() > 1 && word[0] == 'x') {
      const std::optional<int> times = parse_count(word.substr(1));
      if (!times || *times == 0) {
        throw DirectiveError("bad fault count \"" + std::string(word) + "\" (use x2 or x*)");
      }
      fault.times = *times;
    } else if (word.starts_with("retry-after-ms=") && parse_count(word.substr(15))) {
      fault.retry_after_ms = word.substr(15);
    } else if (word.starts_with("retry-after=") && is_number(word.substr(12))) {
      fault.retry_after = word.substr(12);
    } else {
      throw DirectiveError("bad fault option \"" + std::string(word) +
                           "\" (known: xN, x*, retry-after=SECONDS, retry-after-ms=MS)");
    }
  }
  return fault;
}

constexpr std::pair<std::string_view, ShapeKind> k_shapes[] = {
    {"tool_call", ShapeKind::tool_call},
    {"tool_call_text", ShapeKind::tool_call_text},
    {"length", ShapeKind::length},
    {"refusal", ShapeKind::refusal},
    {"reasoning_exhausted", ShapeKind::reasoning_exhausted},
    {"empty", ShapeKind::empty},
    {"parts", ShapeKind::parts},
    {"content_filter", ShapeKind::content_filter},
    {"cached", ShapeKind::cached},
    {"error_200", ShapeKind::error_200},
    {"quota", ShapeKind::quota},
    {"html", ShapeKind::html},
    {"sse", ShapeKind::sse},
    {"bad_utf8", ShapeKind::bad_utf8},
    {"masked_key_401", ShapeKind::masked_key_401},
    {"echo_key", ShapeKind::echo_key},
};

// "tool_call name=get_weather args={"city": "Paris"}": args= takes the rest of the directive, so
// that its JSON may hold spaces.
Shape parse_shape(std::string_view spec) {
  std::string_view args;
  if (const std::size_t at = spec.find("args="); at != std::string_view::npos) {
    args = spec.substr(at + 5);
    spec = spec.substr(0, at);
  }
  const std::vector<std::string> words = split_words(spec);
  if (words.empty()) {
    throw DirectiveError("empty shape directive");
  }
  Shape shape;
  const auto known = std::find_if(std::begin(k_shapes), std::end(k_shapes),
                                  [&](const auto& entry) { return entry.first == words[0]; });
  if (known == std::end(k_shapes)) {
    std::string names;
    for (const auto& [name, kind] : k_shapes) {
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    throw DirectiveError("unknown shape \"" + words[0] + "\" (known: " + names + ")");
  }
  shape.kind = known->second;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string_view word = words[i];
    const std::size_t equals = word.find('=');
    // -1: not a number (the value_or keeps GCC 12 from seeing an unset optional read).
    const int number =
        equals == std::string_view::npos ? -1 : parse_count(word.substr(equals + 1)).value_or(-1);
    if (word.starts_with("name=") && word.size() > 5) {
      shape.tool = word.substr(5);
    } else if (word.starts_with("code=") && number >= 100 && number <= 599) {
      shape.code = number;
    } else if (word.starts_with("status=") && number >= 200 && number <= 599) {
      shape.status = number;
    } else {
      throw DirectiveError("bad shape option \"" + std::string(word) +
                           "\" (known: name=TOOL, args=JSON, code=N, status=N)");
    }
  }
  if (!text_is_blank(args)) {
    shape.args = json::parse(args, nullptr, false);
    if (!shape.args.is_object()) {
      throw DirectiveError("bad shape option args=" + std::string(args) +
                           " (a JSON object: args={\"city\": \"Paris\"})");
    }
  }
  return shape;
}

// Every [[name: value]] in `text`; names other than reply, fault, shape and latency are left
// alone (they may be the user's own text).
Directives parse_directives(std::string_view text) {
  Directives directives;
  bool have_latency = false;
  std::size_t from = 0;
  while (true) {
    const std::size_t open = text.find("[[", from);
    if (open == std::string_view::npos) {
      break;
    }
    const std::size_t close = text.find("]]", open + 2);
    if (close == std::string_view::npos) {
      break;
    }
    const std::string_view inside = text.substr(open + 2, close - open - 2);
    from = close + 2;
    const std::size_t colon = inside.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    const std::string_view name = inside.substr(0, colon);
    std::string_view value = inside.substr(colon + 1);
    if (name == "reply") {
      if (value.starts_with(' ')) {
        value.remove_prefix(1); // "[[reply: TEXT]]" answers TEXT
      }
      if (!directives.reply) {
        directives.reply = std::string(value);
      }
    } else if (name == "fault") {
      if (!directives.fault) {
        directives.fault = parse_fault(value);
      }
    } else if (name == "shape") {
      if (!directives.shape) {
        directives.shape = parse_shape(value);
      }
    } else if (name == "latency") {
      const std::vector<std::string> words = split_words(value);
      const std::optional<int> latency =
          words.size() == 1 ? parse_count(words[0]) : std::optional<int>();
      if (!latency) {
        throw DirectiveError("bad latency \"" + std::string(value) + "\" (use [[latency: 200]])");
      }
      if (!have_latency) {
        directives.latency_ms = *latency;
        have_latency = true;
      }
    }
  }
  return directives;
}

// ---------------------------------------------------------------------------------------------
// The wire formats.

// The text of a message's content: a string, or the text blocks of an array (joined by
// newlines); anything else (null, images) contributes nothing.
std::string content_text(const json& content) {
  if (content.is_string()) {
    return content.get<std::string>();
  }
  std::string text;
  if (content.is_array()) {
    for (const json& block : content) {
      if (block.is_object() && block.value("type", "") == "text" && block.contains("text") &&
          block["text"].is_string()) {
        if (!text.empty()) {
          text += '\n';
        }
        text += block["text"].get<std::string>();
      }
    }
  }
  return text;
}

std::size_t count_words(std::string_view text) {
  return split_words(text).size();
}

std::string hex_hash(std::string_view text) {
  std::uint64_t hash = 1469598103934665603ULL; // FNV-1a
  for (const char c : text) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string hex(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) { // as "%016llx", without printf's cost
    hex[static_cast<std::size_t>(i)] = k_hex[hash & 0xf];
  }
  return hex;
}

std::string error_type(Wire wire, int status) {
  switch (status) {
  case 400:
  case 404:
    return wire == Wire::openai && status == 404 ? "not_found_error" : "invalid_request_error";
  case 429:
    return wire == Wire::openai ? "requests" : "rate_limit_error";
  case 529:
    return "overloaded_error";
  default:
    return wire == Wire::openai ? "server_error" : "api_error";
  }
}

std::string error_body(Wire wire, int status, const std::string& message) {
  const std::string type = error_type(wire, status);
  if (wire == Wire::openai) {
    const json code = status == 429 ? json("rate_limit_exceeded") : json(nullptr);
    return json{
        {"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}}
        .dump();
  }
  return json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}.dump();
}

std::string fault_message(int status) {
  switch (status) {
  case 429:
    return "rate limit reached (injected by the fake provider)";
  case 503:
    return "service unavailable (injected by the fake provider)";
  case 529:
    return "overloaded (injected by the fake provider)";
  default:
    return "internal server error (injected by the fake provider)";
  }
}

// A request the fake provider will not answer: the status and the message of the 400.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What a provider request asks for, read from its body.
struct ChatRequest {
  std::string model;
  std::string last_user;
  std::size_t input_words = 0;
  bool wants_json = false;
  std::string first_tool; // the name of the request's first tool, "" without tools
  std::optional<std::int64_t> max_tokens{}; // max_completion_tokens, max_tokens
};

ChatRequest read_chat_request(Wire wire, const std::string& body) {
  json request;
  try {
    request = json::parse(body);
  } catch (const json::parse_error& error) {
    throw BadRequest(std::string("the body is not JSON: ") + error.what());
  }
  if (!request.is_object()) {
    throw BadRequest("the body must be a JSON object");
  }
  if (!request.contains("model") || !request["model"].is_string()) {
    throw BadRequest("\"model\" is missing or not a string");
  }
  if (!request.contains("messages") || !request["messages"].is_array()) {
    throw BadRequest("\"messages\" is missing or not an array");
  }
  if (request.value("stream", false) == true) {
    throw BadRequest("the fake provider does not stream: send \"stream\": false");
  }
  ChatRequest chat;
  chat.model = request["model"].get<std::string>();
  for (const json& message : request["messages"]) {
    if (!message.is_object()) {
      throw BadRequest("every entry of \"messages\" must be an object");
    }
    const std::string text = content_text(message.value("content", json()));
    chat.input_words += count_words(text);
    if (message.value("role", "") == "user") {
      chat.last_user = text;
    }
  }
  if (const auto tools = request.find("tools"); tools != request.end() && tools->is_array() &&
                                                !tools->empty() && tools->front().is_object()) {
    // OpenAI: {"type": "function", "function": {"name"}}; Anthropic: {"name", "input_schema"}.
    const json& tool = tools->front();
    const json& named = tool.contains("function") ? tool["function"] : tool;
    if (named.is_object() && named.contains("name") && named["name"].is_string()) {
      chat.first_tool = named["name"].get<std::string>();
    }
  }
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (const auto limit = request.find(key);
        limit != request.end() && limit->is_number_integer() && !chat.max_tokens) {
      chat.max_tokens = limit->get<std::int64_t>();
    }
  }
  if (wire == Wire::anthropic) {
    chat.input_words += count_words(content_text(request.value("system", json())));
    const json format = request.value("output_config", json::object()).value("format", json());
    chat.wants_json = format.is_object() && format.value("type", "") == "json_schema";
  } else {
    const json format = request.value("response_format", json());
    chat.wants_json = format.is_object() && (format.value("type", "") == "json_schema" ||
                                             format.value("type", "") == "json_object");
  }
  return chat;
}

// The answer body, written out directly: building it as a json object and dumping it took a
// third of the fake's instructions per request. The keys are in nlohmann::json's (sorted)
// order, so the bytes are those json{...}.dump() gave.
// `hidden_tokens` are billed as output without showing in the text, as a reasoning model's are:
// OpenAI counts them in completion_tokens and again in completion_tokens_details, Anthropic in
// output_tokens (its thinking tokens have no field of their own).
std::string answer_body(Wire wire, const ChatRequest& chat, const std::string& reply,
                        const std::string& model, const std::string& fingerprint,
                        const std::string& body_hash, std::size_t hidden_tokens) {
  const std::size_t output_words = count_words(reply) + hidden_tokens;
  std::string out;
  out.reserve(320 + reply.size() + model.size() + fingerprint.size());
  if (wire == Wire::openai) {
    out += R"({"choices":[{"finish_reason":"stop","index":0,"message":{"content":)";
    util::append_json_string(out, reply);
    out += R"(,"role":"assistant"}}],"created":)";
    out += std::to_string(k_created);
    out += R"(,"id":)";
    util::append_json_string(out, "chatcmpl-fake" + body_hash);
    out += R"(,"model":)";
    util::append_json_string(out, model);
    out += R"(,"object":"chat.completion","system_fingerprint":)";
    util::append_json_string(out, fingerprint);
    out += R"(,"usage":{"completion_tokens":)";
    out += std::to_string(output_words);
    if (hidden_tokens > 0) {
      out += R"(,"completion_tokens_details":{"reasoning_tokens":)";
      out += std::to_string(hidden_tokens);
      out += "}";
    }
    out += R"(,"prompt_tokens":)";
    out += std::to_string(chat.input_words);
    out += R"(,"total_tokens":)";
    out += std::to_string(chat.input_words + output_words);
    out += "}}";
    return out;
  }
  out += R"({"content":[{"text":)";
  util::append_json_string(out, reply);
  out += R"(,"type":"text"}],"id":)";
  util::append_json_string(out, "msg_fake" + body_hash);
  out += R"(,"model":)";
  util::append_json_string(out, model);
  out += R"(,"role":"assistant","stop_reason":"end_turn","stop_sequence":null,)";
  out += R"("type":"message","usage":{"input_tokens":)";
  out += std::to_string(chat.input_words);
  out += R"(,"output_tokens":)";
  out += std::to_string(output_words);
  out += "}}";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reply shapes: answers in the forms real vendors send, for tests of what promptops reads of
// them. Each shape names its source.

// What a shaped answer sends.
struct Shaped {
  int status = 200;
  std::string content_type = k_json;
  std::string body;
};

// What the shapes take from the request and the server.
struct ShapeInput {
  const ChatRequest& chat;
  const std::string& reply; // from the rules, a [[reply:]] or the echo, as unshaped
  const std::string& model;
  const std::string& fingerprint;
  const std::string& hash; // of the body: ids
  const std::string& key;  // from Authorization: Bearer or x-api-key, "" without one
  const std::string& key_header;
};

constexpr const char* k_preamble = "I'll check.";
constexpr const char* k_refusal = "I'm sorry, I can't help with that.";
// Stands for the invalid bytes of bad_utf8 until the body is written: json::dump() refuses them.
constexpr std::string_view k_bad_marker = "@@FAKE_BAD_UTF8@@";

// The first `n` words of `text`, joined by spaces.
std::string first_words(std::string_view text, std::size_t n) {
  std::string out;
  const std::vector<std::string> words = split_words(text);
  for (std::size_t i = 0; i < n && i < words.size(); ++i) {
    out += (i == 0 ? "" : " ") + words[i];
  }
  return out;
}

// `text` in two pieces that give it back when joined without a separator (cut before the
// space nearest its middle).
std::pair<std::string, std::string> halves(const std::string& text) {
  std::size_t cut = text.rfind(' ', text.size() / 2);
  cut = cut == std::string::npos ? text.size() / 2 : cut;
  return {text.substr(0, cut), text.substr(cut)};
}

// The key masked as OpenAI's 401 quotes it: the first 8 characters, an asterisk for each one
// after them but the last 4, and the last 4 ("sk-WRQsP***...***xQBt": issue threads quoting
// the API, e.g. github.com/dKosarevsky/AI-Talks/issues/32, chatanywhere/GPT_API_free/issues/81).
std::string masked_key(const std::string& key) {
  if (key.size() <= 12) {
    return std::string(key.size(), '*');
  }
  return key.substr(0, 8) + std::string(key.size() - 12, '*') + key.substr(key.size() - 4);
}

// OpenAI's chat completion around `message` (openai-python tests/lib/chat/test_completions.py
// snapshots; types/chat/chat_completion.py, completion_usage.py).
json openai_completion(const ShapeInput& in, json message, const char* finish_reason, json usage) {
  message["role"] = "assistant";
  if (!message.contains("refusal")) {
    message["refusal"] = nullptr;
  }
  return json{{"id", "chatcmpl-fake" + in.hash},
              {"object", "chat.completion"},
              {"created", k_created},
              {"model", in.model},
              {"system_fingerprint", in.fingerprint},
              {"choices", json::array({{{"index", 0},
                                        {"message", std::move(message)},
                                        {"logprobs", nullptr},
                                        {"finish_reason", finish_reason}}})},
              {"usage", std::move(usage)}};
}

json openai_usage(std::size_t input, std::size_t output) {
  return json{
      {"prompt_tokens", input}, {"completion_tokens", output}, {"total_tokens", input + output}};
}

// Anthropic's message around `content` (anthropic-sdk-python src/anthropic/types/message.py,
// stop_reason.py, usage.py).
json anthropic_message(const ShapeInput& in, json content, const char* stop_reason, json usage) {
  return json{{"id", "msg_fake" + in.hash},    {"type", "message"},
              {"role", "assistant"},           {"model", in.model},
              {"content", std::move(content)}, {"stop_reason", stop_reason},
              {"stop_sequence", nullptr},      {"usage", std::move(usage)}};
}

json anthropic_usage(std::size_t input, std::size_t output) {
  return json{{"input_tokens", input}, {"output_tokens", std::max<std::size_t>(output, 1)}};
}

json text_block(const std::string& text) {
  return json{{"type", "text"}, {"text", text}};
}

// The tool call of tool_call and tool_call_text: its name and arguments.
std::pair<std::string, json> called_tool(const Shape& shape, const ChatRequest& chat) {
  const std::string name = !shape.tool.empty()        ? shape.tool
                           : !chat.first_tool.empty() ? chat.first_tool
                                                      : "lookup";
  return {name, shape.args};
}

// tool_call, tool_call_text: OpenAI {content: null, tool_calls: [{id: "call_…", type:
// "function", function: {name, arguments: "<JSON text>"}}]}, finish_reason "tool_calls"
// (openai-python tests/lib/chat/test_completions.py, test_parse_pydantic_tool; Ollama's
// docs/openai.md sends the same with content ""); Anthropic [{type: "tool_use", id: "toolu_…",
// name, input}] after an optional text block, stop_reason "tool_use" (anthropic-sdk-python
// src/anthropic/types/tool_use_block.py).
json tool_answer(Wire wire, const Shape& shape, const ShapeInput& in) {
  const auto [name, args] = called_tool(shape, in.chat);
  const bool text = shape.kind == ShapeKind::tool_call_text;
  const std::size_t output = count_words(args.dump()) + 3 + (text ? 2 : 0);
  if (wire == Wire::openai) {
    json call = {{"id", "call_fake" + in.hash},
                 {"type", "function"},
                 {"function", {{"name", name}, {"arguments", args.dump()}}}};
    json message = {{"content", text ? json(k_preamble) : json(nullptr)},
                    {"tool_calls", json::array({std::move(call)})}};
    return openai_completion(in, std::move(message), "tool_calls",
                             openai_usage(in.chat.input_words, output));
  }
  json content = json::array();
  if (text) {
    content.push_back(text_block(k_preamble));
  }
  content.push_back(
      {{"type", "tool_use"}, {"id", "toolu_fake" + in.hash}, {"name", name}, {"input", args}});
  return anthropic_message(in, std::move(content), "tool_use",
                           anthropic_usage(in.chat.input_words, output));
}

// The text a shape shows: the reply, cut (length) or with more in it (bad_utf8, echo_key).
std::string shaped_text(const Shape& shape, const ShapeInput& in) {
  switch (shape.kind) {
  case ShapeKind::length:
    return first_words(in.reply, count_words(in.reply) / 2);
  case ShapeKind::bad_utf8:
    return in.reply + " " + std::string(k_bad_marker);
  case ShapeKind::echo_key:
    return in.reply + "\n" + in.key_header + ": " + in.key;
  default:
    return in.reply;
  }
}

// The token budget a reasoning model spent: the request's limit, else 1024.
std::size_t spent_tokens(const ChatRequest& chat) {
  return static_cast<std::size_t>(std::max<std::int64_t>(chat.max_tokens.value_or(1024), 1));
}

// The OpenAI shapes of a 200 answer with text, or none: length, refusal, reasoning_exhausted,
// empty, parts, content_filter, cached, bad_utf8, echo_key.
json openai_text_answer(const Shape& shape, const ShapeInput& in) {
  const std::size_t input = in.chat.input_words;
  const std::string text = shaped_text(shape, in);
  const std::size_t output = count_words(text);
  switch (shape.kind) {
  case ShapeKind::length:
    return openai_completion(in, {{"content", text}}, "length", openai_usage(input, output));
  // Structured outputs' refusal (openai-python test_parse_pydantic_model_refusal).
  case ShapeKind::refusal:
    return openai_completion(in, {{"content", nullptr}, {"refusal", k_refusal}}, "stop",
                             openai_usage(input, count_words(k_refusal)));
  // A reasoning model that spent its whole budget thinking: no text, finish_reason "length",
  // every completion token a reasoning token (completion_usage.py; the "empty response with
  // finish_reason length" reports of o1/o3/gpt-5 users).
  case ShapeKind::reasoning_exhausted: {
    const std::size_t spent = spent_tokens(in.chat);
    json usage = openai_usage(input, spent);
    usage["completion_tokens_details"] = {{"reasoning_tokens", spent}};
    return openai_completion(in, {{"content", ""}}, "length", std::move(usage));
  }
  case ShapeKind::empty:
    return openai_completion(in, {{"content", ""}}, "stop", openai_usage(input, 0));
  // Content as parts, as some OpenAI-compatible servers send it (the request form of
  // openai-python types/chat/chat_completion_content_part_text_param.py).
  case ShapeKind::parts: {
    auto [first, second] = halves(text);
    return openai_completion(in,
                             {{"content", json::array({text_block(first), text_block(second)})}},
                             "stop", openai_usage(input, output));
  }
  // finish_reason "content_filter" with no content (types/chat/chat_completion.py; Azure
  // OpenAI's filtered completions).
  case ShapeKind::content_filter:
    return openai_completion(in, {{"content", nullptr}}, "content_filter", openai_usage(input, 0));
  // Prompt caching: cached_tokens is part of prompt_tokens (completion_usage.py).
  case ShapeKind::cached: {
    json usage = openai_usage(input, output);
    usage["prompt_tokens_details"] = {{"cached_tokens", input - input / 4}};
    return openai_completion(in, {{"content", text}}, "stop", std::move(usage));
  }
  default:
    return openai_completion(in, {{"content", text}}, "stop", openai_usage(input, output));
  }
}

// The same shapes in Anthropic's form.
json anthropic_text_answer(const Shape& shape, const ShapeInput& in) {
  const std::size_t input = in.chat.input_words;
  const std::string text = shaped_text(shape, in);
  const std::size_t output = count_words(text);
  switch (shape.kind) {
  case ShapeKind::length:
    return anthropic_message(in, json::array({text_block(text)}), "max_tokens",
                             anthropic_usage(input, output));
  // stop_reason "refusal" (stop_reason.py), with no content; Anthropic has no content filter
  // of its own, so content_filter answers the same.
  case ShapeKind::refusal:
  case ShapeKind::content_filter:
    return anthropic_message(in, json::array(), "refusal", anthropic_usage(input, 1));
  // Extended thinking that used max_tokens up: one thinking block (thinking_block.py).
  case ShapeKind::reasoning_exhausted: {
    json thinking = {{"type", "thinking"},
                     {"thinking", "Let me think about " + first_words(in.reply, 8) + "..."},
                     {"signature", "fake-signature-" + in.hash}};
    return anthropic_message(in, json::array({std::move(thinking)}), "max_tokens",
                             anthropic_usage(input, spent_tokens(in.chat)));
  }
  case ShapeKind::empty:
    return anthropic_message(in, json::array(), "end_turn", anthropic_usage(input, 1));
  case ShapeKind::parts: {
    auto [first, second] = halves(text);
    return anthropic_message(in, json::array({text_block(first), text_block(second)}), "end_turn",
                             anthropic_usage(input, output));
  }
  // input_tokens is then only the uncached part (usage.py: the total input is the sum of the
  // three).
  case ShapeKind::cached: {
    json usage = anthropic_usage(input - input / 2 - input / 4, output);
    usage["cache_read_input_tokens"] = input / 2;
    usage["cache_creation_input_tokens"] = input / 4;
    return anthropic_message(in, json::array({text_block(text)}), "end_turn", std::move(usage));
  }
  default:
    return anthropic_message(in, json::array({text_block(text)}), "end_turn",
                             anthropic_usage(input, output));
  }
}

// A short stream of `text` (openai-python src/openai/_streaming.py; Anthropic's streaming
// reference, docs.anthropic.com/en/docs/build-with-claude/streaming): sent to a request that
// did not ask for one, as a misconfigured gateway may.
std::string sse_body(Wire wire, const ShapeInput& in) {
  const auto [first, second] = halves(in.reply);
  std::string out;
  const auto event = [&out](const char* name, const json& data) {
    if (name != nullptr) {
      out += std::string("event: ") + name + "\n";
    }
    out += "data: " + data.dump() + "\n\n";
  };
  if (wire == Wire::openai) {
    const auto chunk = [&](json delta, json finish) {
      return json{{"id", "chatcmpl-fake" + in.hash},
                  {"object", "chat.completion.chunk"},
                  {"created", k_created},
                  {"model", in.model},
                  {"system_fingerprint", in.fingerprint},
                  {"choices", json::array({{{"index", 0},
                                            {"delta", std::move(delta)},
                                            {"logprobs", nullptr},
                                            {"finish_reason", std::move(finish)}}})}};
    };
    event(nullptr, chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
    event(nullptr, chunk({{"content", first}}, nullptr));
    event(nullptr, chunk({{"content", second}}, nullptr));
    event(nullptr, chunk(json::object(), "stop"));
    out += "data: [DONE]\n\n";
    return out;
  }
  json start =
      anthropic_message(in, json::array(), "end_turn", anthropic_usage(in.chat.input_words, 1));
  start["stop_reason"] = nullptr;
  event("message_start", {{"type", "message_start"}, {"message", std::move(start)}});
  event("content_block_start",
        {{"type", "content_block_start"}, {"index", 0}, {"content_block", text_block("")}});
  event("ping", {{"type", "ping"}});
  for (const std::string& piece : {first, second}) {
    event("content_block_delta", {{"type", "content_block_delta"},
                                  {"index", 0},
                                  {"delta", {{"type", "text_delta"}, {"text", piece}}}});
  }
  event("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}});
  event("message_delta", {{"type", "message_delta"},
                          {"delta", {{"stop_reason", "end_turn"}, {"stop_sequence", nullptr}}},
                          {"usage", {{"output_tokens", count_words(in.reply)}}}});
  event("message_stop", {{"type", "message_stop"}});
  return out;
}

// A proxy's page in place of the API's answer: a sign-in page with 200, else nginx's error
// page for the status.
std::string html_page(int status) {
  if (status == 200) {
    return "<!DOCTYPE html>\n<html><head><title>Sign in - Corporate Proxy</title></head>\n"
           "<body><h1>Authentication required</h1><p>Sign in to continue to "
           "api.example.com.</p></body></html>\n";
  }
  const std::string line = std::to_string(status) + (status == 502   ? " Bad Gateway"
                                                     : status == 503 ? " Service Unavailable"
                                                     : status == 504 ? " Gateway Time-out"
                                                     : status == 403 ? " Forbidden"
                                                                     : " Error");
  return "<html>\r\n<head><title>" + line + "</title></head>\r\n<body>\r\n<center><h1>" + line +
         "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
}

// `message` in the wire's error body.
std::string shaped_error(Wire wire, const std::string& type, const std::string& message,
                         const json& code, const std::string& hash) {
  if (wire == Wire::openai) {
    return json{
        {"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}}
        .dump();
  }
  return json{{"type", "error"},
              {"error", {{"type", type}, {"message", message}}},
              {"request_id", "req_fake" + hash}}
      .dump();
}

Shaped shaped_answer(Wire wire, const Shape& shape, const ShapeInput& in) {
  Shaped out;
  switch (shape.kind) {
  case ShapeKind::tool_call:
  case ShapeKind::tool_call_text:
    out.body = tool_answer(wire, shape, in).dump();
    return out;
  // OpenRouter: an error after the model started comes with status 200 and error.code the
  // status it stands for (openrouter.ai/docs/api/reference/errors-and-debugging).
  case ShapeKind::error_200:
    out.body = json{{"error",
                     {{"code", shape.code},
                      {"message", "Provider returned error"},
                      {"metadata",
                       {{"provider_name", "FakeUpstream"},
                        {"raw", "upstream error (injected by the fake provider)"}}}}}}
                   .dump();
    return out;
  // OpenAI: a 429 that is billing, not a rate limit (platform.openai.com/docs/guides/
  // error-codes; langchainjs#1929). Anthropic: a 400 invalid_request_error about the credit
  // balance (as quoted in anthropics/claude-code#4684 and claude-quickstarts#229).
  case ShapeKind::quota:
    out.status = wire == Wire::openai ? 429 : 400;
    out.body =
        wire == Wire::openai
            ? shaped_error(wire, "insufficient_quota",
                           "You exceeded your current quota, please check your plan and billing "
                           "details. For more information on this error, read the docs: "
                           "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                           "insufficient_quota", in.hash)
            : shaped_error(wire, "invalid_request_error",
                           "Your credit balance is too low to access the Anthropic API. Please "
                           "go to Plans & Billing to upgrade or purchase credits.",
                           nullptr, in.hash);
    return out;
  case ShapeKind::html:
    out.status = shape.status;
    out.content_type = "text/html";
    out.body = html_page(shape.status);
    return out;
  case ShapeKind::sse:
    out.content_type = "text/event-stream";
    out.body = sse_body(wire, in);
    return out;
  // OpenAI's 401 quotes the key it got, masked (masked_key); Anthropic's does not, but a
  // gateway in front of it may.
  case ShapeKind::masked_key_401:
    out.status = 401;
    out.body =
        shaped_error(wire, wire == Wire::openai ? "invalid_request_error" : "authentication_error",
                     "Incorrect API key provided: " + masked_key(in.key) +
                         ". You can find your API key at "
                         "https://platform.openai.com/account/api-keys.",
                     "invalid_api_key", in.hash);
    return out;
  default:
    break;
  }
  out.body =
      (wire == Wire::openai ? openai_text_answer(shape, in) : anthropic_text_answer(shape, in))
          .dump();
  if (shape.kind == ShapeKind::bad_utf8) {
    // An invalid byte and a lone surrogate escape, as a broken upstream may send them.
    const std::size_t at = out.body.find(k_bad_marker);
    if (at != std::string::npos) {
      out.body.replace(at, k_bad_marker.size(), "\xff \\ud800");
    }
  }
  return out;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The API key the request sent and the header it came in ("authorization" without "Bearer ",
// else "x-api-key"); empty strings without one.
std::pair<std::string, std::string> api_key_of(const httplib::Request& req) {
  const std::string bearer = req.get_header_value("Authorization");
  if (bearer.starts_with("Bearer ")) {
    return {"authorization", bearer.substr(7)};
  }
  if (req.has_header("x-api-key")) {
    return {"x-api-key", req.get_header_value("x-api-key")};
  }
  return {"", ""};
}

json record_json(const RequestRecord& record) {
  return json{{"path", record.path},
              {"at_ms", record.at_ms},
              {"body", record.body},
              {"headers", record.headers},
              {"status", record.status}};
}

} // namespace

// ---------------------------------------------------------------------------------------------

struct FakeProvider::Impl {
  FakeProviderOptions options;
  Clock::time_point started = Clock::now();
  std::atomic<int> latency_ms{0};
  int port = 0;
  int listening_socket = -1; // httplib's, set while binding

  Connections connections;
  httplib::Server server;
  std::thread listener;
  std::atomic<bool> listener_ended{false};

  mutable std::mutex records_mutex;
  std::vector<RequestRecord> records;
  std::uint64_t generation = 0; // bumped by reset: answers in flight do not touch new records
  std::unordered_map<std::size_t, int> fault_counts;         // per hash of path and body
  std::unordered_map<std::size_t, std::size_t> rule_answers; // rules with `then`: answers given

  std::mutex stop_mutex;
  std::condition_variable stop_signal;
  bool stopping = false;

  explicit Impl(FakeProviderOptions opts) : options(std::move(opts)) {
    latency_ms = options.latency_ms;
  }

  void start();
  void stop();
  void handle(const httplib::Request& req, httplib::Response& res);
  // Answer a provider request; false when no answer is to be sent at all (drop, hang).
  // `requests_before`: requests that came before it on its connection.
  bool answer(Wire wire, const httplib::Request& req, httplib::Response& res, int requests_before);
  // The text of the answer to `chat`: a rule's, a [[reply:]]'s, else the echo.
  std::string reply_to(const ChatRequest& chat, const Directives& directives,
                       const httplib::Request& req);
  // Wait `duration` or until the server stops; true if it stopped.
  bool wait_or_stop(Milliseconds duration);
  // Wait until the server stops or the client closes `connection`.
  void hang(int connection);
  // Record a request; its (generation, index) to set its status later.
  std::pair<std::uint64_t, std::size_t> record(const httplib::Request& req);
  void set_status(std::pair<std::uint64_t, std::size_t> at, int status);
  // How many requests with this path and body have arrived, this one included; with
  // Count::no, how many would have.
  enum class Count { yes, no };
  int count_arrival(const httplib::Request& req, Count count);
  std::vector<RequestRecord> snapshot() const {
    const std::lock_guard lock(records_mutex);
    return records;
  }
  void forget() {
    const std::lock_guard lock(records_mutex);
    records.clear();
    fault_counts.clear();
    rule_answers.clear();
    ++generation;
  }
};

void FakeProvider::Impl::start() {
  if (options.threads < 1) {
    throw std::runtime_error("fake provider: threads must be at least 1");
  }
  if (options.port < 0 || options.port > 65535) {
    throw std::runtime_error("fake provider: port " + std::to_string(options.port) +
                             " is outside 0..65535");
  }
  // Answers are written out by hand (answer_body), which expects valid UTF-8.
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string&>{"reported_model", options.reported_model},
        {"system_fingerprint", options.system_fingerprint}}) {
    try {
      (void)json(value).dump();
    } catch (const json::exception&) {
      throw std::runtime_error(std::string("fake provider: ") + name + " is not valid UTF-8");
    }
  }
  const auto threads = static_cast<std::size_t>(options.threads);
  server.new_task_queue = [this, threads] { return new ConnectionPool(threads, connections); };
  // Up to a hundred requests per connection, as real providers keep connections alive.
  server.set_keep_alive_max_count(100);
  // httplib writes headers and body apart; with Nagle on, the body waits for the client's
  // delayed ACK (40 ms), which caps a connection at 25 answers a second.
  server.set_tcp_nodelay(true);
  const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    handle(req, res);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);

  // httplib's default sets SO_REUSEPORT, with which a second server binds a port in use and
  // steals half its connections; SO_REUSEADDR alone still allows a quick restart.
  server.set_socket_options([this](socket_t socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening_socket = socket;
  });
  errno = 0;
  if (options.port == 0) {
    port = server.bind_to_any_port(options.host);
  } else {
    port = server.bind_to_port(options.host, options.port) ? options.port : -1;
  }
  if (port <= 0) {
    const int error = errno;
    throw std::runtime_error("fake provider: cannot listen on " + options.host + ":" +
                             std::to_string(options.port) +
                             (error != 0 ? std::string(": ") + std::strerror(error) : ""));
  }
  // httplib listens with a backlog of 5: a burst of connections (64 clients at once) would
  // lose SYNs and wait a second for their retransmission.
  ::listen(listening_socket, SOMAXCONN);
  listener = std::thread([this] {
    server.listen_after_bind();
    listener_ended = true;
  });
  // httplib 0.11 has no wait_until_ready.
  while (!server.is_running() && !listener_ended) {
    std::this_thread::sleep_for(Milliseconds(1));
  }
  if (!server.is_running()) {
    listener.join();
    throw std::runtime_error("fake provider: the listener on port " + std::to_string(port) +
                             " stopped at once");
  }
}

void FakeProvider::Impl::stop() {
  {
    const std::lock_guard lock(stop_mutex);
    stopping = true;
  }
  stop_signal.notify_all();
  server.stop();
  // Idle kept-alive connections would otherwise hold their threads for httplib's keep-alive
  // timeout (5 s), and the join below with them.
  connections.cut_all(port);
  if (listener.joinable()) {
    listener.join();
  }
}

bool FakeProvider::Impl::wait_or_stop(Milliseconds duration) {
  std::unique_lock lock(stop_mutex);
  if (duration <= Milliseconds::zero()) {
    // wait_for with a deadline already past still makes a futex call.
    return stopping;
  }
  return stop_signal.wait_for(lock, duration, [this] { return stopping; });
}

void FakeProvider::Impl::hang(int connection) {
  while (!wait_or_stop(k_hang_poll)) {
    if (connection >= 0 && Connections::peer_closed(connection)) {
      return;
    }
  }
}

std::pair<std::uint64_t, std::size_t> FakeProvider::Impl::record(const httplib::Request& req) {
  RequestRecord entry;
  entry.path = req.path;
  entry.body = req.body;
  for (const auto& [name, value] : req.headers) {
    // httplib adds the addresses as pseudo-headers; they were not sent.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
        name == "LOCAL_PORT") {
      continue;
    }
    std::string& joined = entry.headers[lower(name)];
    joined = joined.empty() ? value : joined + ", " + value;
  }
  const std::lock_guard lock(records_mutex);
  entry.at_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  records.push_back(std::move(entry));
  return {generation, records.size() - 1};
}

void FakeProvider::Impl::set_status(std::pair<std::uint64_t, std::size_t> at, int status) {
  const std::lock_guard lock(records_mutex);
  if (at.first == generation && at.second < records.size()) {
    records[at.second].status = status;
  }
}

int FakeProvider::Impl::count_arrival(const httplib::Request& req, Count count) {
  const std::size_t key = std::hash<std::string>{}(req.path + '\n' + req.body);
  const std::lock_guard lock(records_mutex);
  int& arrivals = fault_counts[key];
  return count == Count::yes ? ++arrivals : arrivals + 1;
}

void FakeProvider::Impl::handle(const httplib::Request& req, httplib::Response& res) {
  const int requests_before = connections.begin_request(req);
  if (req.method == "GET" && req.path == "/_requests") {
    json list = json::array();
    for (const RequestRecord& entry : snapshot()) {
      list.push_back(record_json(entry));
    }
    set_json(res, list.dump());
    return;
  }
  if (req.method == "POST" && req.path == "/_reset") {
    forget();
    set_json(res, R"({"status":"ok"})");
    return;
  }

  const auto at = record(req);
  bool answered = true;
  if (req.method == "POST" && (req.path == k_openai_path || req.path == k_anthropic_path)) {
    const Wire wire = req.path == k_openai_path ? Wire::openai : Wire::anthropic;
    try {
      answered = answer(wire, req, res, requests_before);
    } catch (const std::exception& error) {
      // A bug of ours must still give the client an answer it can read.
      res.status = 500;
      set_json(res, error_body(wire, 500, std::string("fake provider: ") + error.what()));
    }
  } else {
    res.status = 404;
    set_json(res, error_body(Wire::openai, 404,
                             "no such endpoint: " + req.method + " " + req.path + " (POST " +
                                 k_openai_path + " or POST " + k_anthropic_path + ")"));
  }
  set_status(at, answered ? res.status : 0);
}

std::string FakeProvider::Impl::reply_to(const ChatRequest& chat, const Directives& directives,
                                         const httplib::Request& req) {
  std::string reply;
  const auto rule = std::find_if(options.rules.begin(), options.rules.end(), [&](const Rule& r) {
    return chat.last_user.find(r.contains) != std::string::npos;
  });
  if (rule != options.rules.end()) {
    reply = rule->reply;
    if (!rule->then.empty()) {
      const std::size_t key = std::hash<std::string>{}(req.path + '\n' + req.body);
      std::size_t answered_before = 0;
      {
        const std::lock_guard lock(records_mutex);
        answered_before = rule_answers[key]++;
      }
      if (answered_before > 0) {
        reply = rule->then[std::min(answered_before, rule->then.size()) - 1];
      }
    }
  } else if (directives.reply) {
    reply = *directives.reply;
  } else if (chat.wants_json) {
    reply = R"({"echo":)";
    util::append_json_string(reply, chat.last_user);
    reply += '}';
  } else {
    reply = "echo: " + chat.last_user;
  }
  return reply;
}

bool FakeProvider::Impl::answer(Wire wire, const httplib::Request& req, httplib::Response& res,
                                int requests_before) {
  const auto reject = [&](const std::string& message) {
    res.status = 400;
    set_json(res, error_body(wire, 400, message));
    return true;
  };
  ChatRequest chat;
  Directives directives;
  try {
    chat = read_chat_request(wire, req.body);
    directives = parse_directives(chat.last_user);
  } catch (const BadRequest& error) {
    return reject(error.what());
  } catch (const DirectiveError& error) {
    return reject(std::string("fake provider directive: ") + error.what());
  }

  std::optional<Fault> fault = directives.fault;
  if (fault) {
    // libcurl silently resends a request whose reused connection closed without an answer
    // (it cannot tell a drop from a stale connection): that drop is not counted, so a client
    // sees each counted drop whatever its connection reuse.
    const bool client_resends = fault->kind == FaultKind::drop && requests_before > 0;
    const int arrival = count_arrival(req, client_resends ? Count::no : Count::yes);
    if (fault->times != 0 && arrival > fault->times) {
      fault.reset();
    }
  }
  if (fault && fault->kind == FaultKind::hang) {
    const int socket = Connections::socket_of(req);
    hang(socket);
    if (socket >= 0) {
      Connections::cut(socket);
    }
    return false;
  }
  if (wait_or_stop(Milliseconds(latency_ms + directives.latency_ms))) {
    const int socket = Connections::socket_of(req);
    if (socket >= 0) {
      Connections::cut(socket);
    }
    return false;
  }

  if (fault && fault->kind == FaultKind::status) {
    res.status = fault->status;
    if (!fault->retry_after.empty()) {
      res.set_header("Retry-After", fault->retry_after);
    }
    if (!fault->retry_after_ms.empty()) {
      res.set_header("retry-after-ms", fault->retry_after_ms);
    }
    set_json(res, error_body(wire, fault->status, fault_message(fault->status)));
    return true;
  }
  if (fault && fault->kind == FaultKind::malformed) {
    res.status = 200;
    set_json(res, R"({"choices": [)");
    return true;
  }
  if (fault && fault->kind == FaultKind::drop) {
    if (const int socket = Connections::socket_of(req); socket >= 0) {
      Connections::cut(socket);
      return false;
    }
    // Without the socket, the least bad: headers promising a body, then the connection closes.
    res.status = 200;
    res.set_content_provider(1, k_json,
                             [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
    return true;
  }

  const std::string reply = reply_to(chat, directives, req);
  const std::string model =
      options.reported_model.empty() ? chat.model + "-fake" : options.reported_model;
  if (directives.shape) {
    const auto [key_header, key] = api_key_of(req);
    const ShapeInput in{chat, reply,     model, options.system_fingerprint, hex_hash(req.body),
                        key,  key_header};
    Shaped shaped = shaped_answer(wire, *directives.shape, in);
    res.status = shaped.status;
    set_body(res, std::move(shaped.body), shaped.content_type);
    return true;
  }
  std::string body =
      answer_body(wire, chat, reply, model, options.system_fingerprint, hex_hash(req.body),
                  static_cast<std::size_t>(std::max(0, options.extra_output_tokens)));
  res.status = 200;
  if (fault && fault->kind == FaultKind::truncated) {
    // Content-Length says the whole body; half of it is sent, then httplib closes the
    // connection because the provider failed.
    const std::size_t length = body.size();
    res.set_content_provider(
        length, k_json,
        [body = std::move(body)](std::size_t offset, std::size_t, httplib::DataSink& sink) {
          if (offset == 0) {
            sink.write(body.data(), body.size() / 2);
            return true;
          }
          return false;
        });
    return true;
  }
  set_json(res, std::move(body));
  return true;
}

// ---------------------------------------------------------------------------------------------

FakeProvider::FakeProvider(FakeProviderOptions options)
    : m_impl(std::make_unique<Impl>(std::move(options))) {
  m_impl->start();
}

FakeProvider::~FakeProvider() {
  m_impl->stop();
}

int FakeProvider::port() const {
  return m_impl->port;
}

std::string FakeProvider::base_url() const {
  const std::string& host = m_impl->options.host;
  const bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(m_impl->port);
}

std::vector<RequestRecord> FakeProvider::requests() const {
  return m_impl->snapshot();
}

std::size_t FakeProvider::request_count() const {
  const std::lock_guard lock(m_impl->records_mutex);
  return m_impl->records.size();
}

void FakeProvider::reset() {
  m_impl->forget();
}

void FakeProvider::set_latency_ms(int latency_ms) {
  m_impl->latency_ms = latency_ms;
}

std::vector<Rule> parse_rules(std::string_view json_text) {
  json rules;
  try {
    rules = json::parse(json_text);
  } catch (const json::parse_error& error) {
    throw std::runtime_error(std::string("rules: not JSON: ") + error.what());
  }
  if (!rules.is_array()) {
    throw std::runtime_error(
        R"(rules: expected a JSON array of {"contains": "...", "reply": "..."})");
  }
  std::vector<Rule> parsed;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const json& rule = rules[i];
    const std::string where = "rules[" + std::to_string(i) + "]: ";
    if (!rule.is_object()) {
      throw std::runtime_error(where + R"(expected an object {"contains": "...", "reply": "..."})");
    }
    for (const char* key : {"contains", "reply"}) {
      if (!rule.contains(key) || !rule[key].is_string()) {
        throw std::runtime_error(where + "\"" + key + "\" is missing or not a string");
      }
    }
    Rule r{rule["contains"].get<std::string>(), rule["reply"].get<std::string>()};
    if (const auto then = rule.find("then"); then != rule.end()) {
      if (!then->is_array() ||
          std::any_of(then->begin(), then->end(), [](const json& t) { return !t.is_string(); })) {
        throw std::runtime_error(where + "\"then\" must be an array of strings");
      }
      r.then = then->get<std::vector<std::string>>();
    }
    parsed.push_back(std::move(r));
  }
  return parsed;
}

} // namespace promptops::fake
