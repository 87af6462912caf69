#include "serve/prompt_service.hpp"

#include "registry/export.hpp"
#include "registry/prompt.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/suggest.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <exception>
#include <vector>

namespace promptops::serve {

namespace {

using ordered = nlohmann::ordered_json;

std::string dump(const ordered& value) {
  return value.dump(-1, ' ', false, ordered::error_handler_t::replace);
}

Reply error_reply(int status, std::string_view message) {
  return Reply{status, error_body(message), ""};
}

// A 304 carries the ETag and no body; otherwise the body goes out whole.
Reply conditional(const std::string& body, const std::string& etag,
                  std::string_view if_none_match) {
  if (!if_none_match.empty() && etag_matches(if_none_match, etag)) {
    return Reply{304, "", etag};
  }
  return Reply{200, body, etag};
}

std::string quoted(const std::string& tag) {
  return "\"" + tag + "\"";
}

std::string join_quoted(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    out += (out.empty() ? "\"" : ", \"") + n + "\"";
  }
  return out;
}

} // namespace

std::string error_body(std::string_view message) {
  return dump(ordered{{"error", std::string(message)}});
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  auto opaque = [](std::string_view tag) {
    // If-None-Match compares weakly: W/"x" matches "x".
    if (tag.substr(0, 2) == "W/") {
      tag.remove_prefix(2);
    }
    return tag;
  };
  std::size_t start = 0;
  while (start <= if_none_match.size()) {
    std::size_t comma = if_none_match.find(',', start);
    if (comma == std::string_view::npos) {
      comma = if_none_match.size();
    }
    std::string_view item = if_none_match.substr(start, comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
      item.remove_suffix(1);
    }
    if (item == "*" || (!item.empty() && opaque(item) == opaque(etag))) {
      return true;
    }
    start = comma + 1;
  }
  return false;
}

// Everything one tip commit of one environment answers, serialised once.
struct PromptService::Snapshot {
  struct Entry {
    std::string body;
    std::string etag;
  };
  std::string commit;
  std::string list_body;
  std::string list_etag;
  std::map<std::string, Entry> prompts;
  std::vector<std::string> names;
};

PromptService::PromptService(registry::Registry registry) : m_registry(std::move(registry)) {
  const auto& envs = m_registry.config().environments;
  if (!envs.empty()) {
    m_default_env = envs.back();
  }
  // Fixed at start, so the map itself is only ever read by the request threads.
  for (const auto& env : envs) {
    m_build_mutexes.emplace(env, std::make_unique<std::mutex>());
  }
}

PromptService::~PromptService() = default;

std::shared_ptr<const PromptService::Snapshot> PromptService::build(const std::string& env,
                                                                    Reply& error) const {
  registry::EnvironmentTip tip;
  try {
    tip = registry::environment_tip(m_registry, env);
  } catch (const Error& e) {
    error = error_reply(404, e.what()); // nothing promoted yet, or no git repository
    return nullptr;
  }
  {
    const std::lock_guard lock(m_mutex);
    auto it = m_snapshots.find(env);
    if (it != m_snapshots.end() && it->second->commit == tip.commit) {
      return it->second; // another request built it meanwhile
    }
  }
  ordered bundle;
  try {
    bundle = registry::export_environment(m_registry, env, tip);
  } catch (const Error& e) {
    // A pinned prompt that does not load is the server's problem, not the caller's.
    error = error_reply(500, e.what());
    return nullptr;
  }
  auto snap = std::make_shared<Snapshot>();
  snap->commit = tip.commit;
  ordered list = ordered::array();
  for (auto& [name, entry] : bundle["prompts"].items()) {
    const std::string version = entry["version"].get<std::string>();
    list.push_back({{"name", name}, {"version", version}});
    ordered one = ordered::object();
    one["name"] = name;
    for (auto& [key, value] : entry.items()) {
      one[key] = std::move(value);
    }
    snap->prompts[name] = {dump(one), quoted(version)};
    snap->names.push_back(name);
  }
  snap->list_body =
      dump(ordered{{"environment", env}, {"commit", tip.commit}, {"prompts", std::move(list)}});
  // The list changes exactly when the tip does; the environment is in the body too.
  snap->list_etag = quoted(util::sha256_hex("promptops-list 1\n" + env + "\n" + tip.commit));
  const std::lock_guard lock(m_mutex);
  m_snapshots[env] = snap;
  return snap;
}

std::shared_ptr<const PromptService::Snapshot> PromptService::snapshot(const std::string& env,
                                                                       Reply& error) const {
  const auto build_mutex = m_build_mutexes.find(env);
  if (build_mutex == m_build_mutexes.end()) {
    const auto& config = m_registry.config();
    error = error_reply(404, config.environments.empty()
                                 ? config.display_path + " lists no environments"
                                 : "unknown environment \"" + env + "\"" +
                                       util::did_you_mean(env, config.environments) +
                                       " (the environments of " + config.display_path + " are " +
                                       join_quoted(config.environments) + ")");
    return nullptr;
  }
  std::string tip;
  try {
    tip = registry::environment_tip(m_registry, env).commit;
  } catch (const Error& e) {
    error = error_reply(404, e.what());
    return nullptr;
  }
  {
    const std::lock_guard lock(m_mutex);
    auto it = m_snapshots.find(env);
    if (it != m_snapshots.end() && it->second->commit == tip) {
      return it->second;
    }
  }
  // One build per environment at a time: after a promotion, concurrent requests wait for it
  // rather than all building the same thing. build() reads the tip again, so it never stores
  // a state older than the one this request saw.
  const std::lock_guard building(*build_mutex->second);
  return build(env, error);
}

Reply PromptService::list(const std::optional<std::string>& env,
                          std::string_view if_none_match) const {
  try {
    Reply error;
    const auto snap = snapshot(env.value_or(m_default_env), error);
    if (!snap) {
      return error;
    }
    return conditional(snap->list_body, snap->list_etag, if_none_match);
  } catch (const std::exception& e) {
    return error_reply(500, std::string("internal error: ") + e.what());
  }
}

Reply PromptService::prompt(std::string_view name, const std::optional<std::string>& env,
                            std::string_view if_none_match) const {
  try {
    try {
      registry::check_name(name, "prompt");
    } catch (const Error& e) {
      return error_reply(400, e.what());
    }
    const std::string environment = env.value_or(m_default_env);
    Reply error;
    const auto snap = snapshot(environment, error);
    if (!snap) {
      return error;
    }
    const auto it = snap->prompts.find(std::string(name));
    if (it == snap->prompts.end()) {
      return error_reply(404, "prompt \"" + std::string(name) +
                                  "\" is not pinned in environment \"" + environment + "\"" +
                                  util::did_you_mean(name, snap->names));
    }
    return conditional(it->second.body, it->second.etag, if_none_match);
  } catch (const std::exception& e) {
    return error_reply(500, std::string("internal error: ") + e.what());
  }
}

} // namespace promptops::serve
