#include "golden/schema_options.hpp"

namespace promptops::golden {

jsonschema::CompileOptions registry_schema_options(const registry::Registry& registry,
                                                   const std::string& path) {
  std::string root = registry.root().lexically_normal().string();
  while (root.size() > 1 && root.back() == '/') {
    root.pop_back();
  }
  jsonschema::CompileOptions options;
  options.base_uri = "file://" + root + "/" + path;
  options.loader = [&registry, root](const std::string& uri) -> std::optional<nlohmann::json> {
    const std::string prefix = "file://" + root + "/";
    if (uri.rfind(prefix, 0) != 0) {
      return std::nullopt; // nothing outside the registry, and never the network
    }
    std::string rel = uri.substr(prefix.size());
    if (auto hash = rel.find('#'); hash != std::string::npos) {
      rel.resize(hash);
    }
    auto referenced = registry.work_tree().read(rel);
    if (!referenced) {
      return std::nullopt;
    }
    nlohmann::json j = nlohmann::json::parse(*referenced, nullptr, false);
    if (j.is_discarded()) {
      return std::nullopt;
    }
    return j;
  };
  return options;
}

} // namespace promptops::golden
