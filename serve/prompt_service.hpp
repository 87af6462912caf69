#pragma once

#include "registry/registry.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace promptops::serve {

// One answer of the read-only API, before HTTP: status, JSON body ("" for 304) and ETag ("" for
// none, else quoted as it goes on the wire).
struct Reply {
  int status = 200;
  std::string body;
  std::string etag;
};

// The read-only prompt API over a registry's environment branches, without the HTTP plumbing:
//   list(env)          GET /v1/prompts?env=ENV
//   prompt(name, env)  GET /v1/prompts/{name}?env=ENV
// Each call reads the branch tip anew (on its own repository handle), so a promotion shows at
// once; what was built from one tip commit is kept until the tip moves, since a commit never
// changes. Safe to call from many threads at once.
class PromptService {
public:
  explicit PromptService(registry::Registry registry);
  ~PromptService();
  PromptService(const PromptService&) = delete;
  PromptService& operator=(const PromptService&) = delete;

  // The environment used when a request names none: the last of promptops.yaml's
  // `environments` (the one promotion ends in), or "" when it lists none.
  const std::string& default_environment() const { return m_default_env; }

  // {"environment", "commit", "prompts": [{"name", "version"}]} with an ETag derived from the
  // tip's id. `env` std::nullopt = the default. `if_none_match` is the request's header ("" when
  // absent): a match gives 304. Errors are replies too: 404 for an unknown environment or one
  // with nothing promoted, 500 when a pinned prompt does not load. Never throws.
  Reply list(const std::optional<std::string>& env, std::string_view if_none_match) const;

  // The prompt as the export bundle holds it, plus "name" first, with ETag "<version id>".
  // 400 for a name that is not a valid prompt name (anything that could leave prompts/), 404
  // for an unknown environment or a prompt not pinned in it; otherwise as list(). Never throws.
  Reply prompt(std::string_view name, const std::optional<std::string>& env,
               std::string_view if_none_match) const;

private:
  struct Snapshot;

  // The snapshot for the tip of `env` as it is now, or an error reply.
  std::shared_ptr<const Snapshot> snapshot(const std::string& env, Reply& error) const;
  std::shared_ptr<const Snapshot> build(const std::string& env, Reply& error) const;

  registry::Registry m_registry;
  std::string m_default_env;
  mutable std::mutex m_mutex;                                                 // guards m_snapshots
  mutable std::map<std::string, std::shared_ptr<const Snapshot>> m_snapshots; // by environment
  mutable std::map<std::string, std::unique_ptr<std::mutex>> m_build_mutexes; // one build at once
};

// True when an If-None-Match header value (`*`, or a comma-separated list of entity tags, weak
// or strong) matches `etag` (quoted).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// {"error": message} as JSON text.
std::string error_body(std::string_view message);

} // namespace promptops::serve
