#include "registry/git.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <atomic>
#include <dlfcn.h>
#include <exception>
#include <mutex>
#include <vector>

namespace {

// While libgit2 initialises, its default CA bundle is noted instead of parsed.
std::atomic<bool> g_defer_ca_bundle{false};
std::string g_deferred_ca_bundle; // written during init only, read after

} // namespace

// Our definition of mbedTLS's bundle loader. The executable's symbols come first in the
// dynamic linker's lookup, so libgit2's call lands here; outside init (and for
// load_tls_certificates) it hands over to libmbedx509's own through RTLD_NEXT. With another
// TLS backend nothing calls it and nothing changes.
extern "C" __attribute__((visibility("default"))) int
mbedtls_x509_crt_parse_file(void* chain, const char* path) {
  if (g_defer_ca_bundle.load() && path != nullptr) {
    g_deferred_ca_bundle = path;
    return 0;
  }
  using Parse = int (*)(void*, const char*);
  static const auto real = reinterpret_cast<Parse>(dlsym(RTLD_NEXT, "mbedtls_x509_crt_parse_file"));
  return real == nullptr ? -1 : real(chain, path);
}

namespace promptops::registry::git {

std::string oid_hex(const git_oid& id) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &id);
  return hex;
}

void check(int rc, std::string_view what) {
  if (rc >= 0) {
    return;
  }
  const git_error* e = git_error_last();
  const std::string message = e != nullptr && e->message != nullptr ? e->message : "unknown error";
  throw RunError(std::string(what) + ": " + message);
}

void ensure_library() {
  static const bool k_ready = [] {
    g_defer_ca_bundle.store(true);
    static const GitLibrary library;
    g_defer_ca_bundle.store(false);
    // git reads objects without re-hashing them (zlib's checksum still catches a damaged
    // object); libgit2 re-hashes each by default: 22% of a render, on SHA-1DC.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
    // Keep trees in libgit2's object cache whatever their size: by default it keeps none over
    // 4 KiB, so with thousands of prompts every path looked up under prompts/ re-read,
    // inflated and re-hashed that whole folder's tree (83% of a promotion's instructions at
    // 500 prompts; 25% of a render at 5,000).
    git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, std::size_t{64} << 20);
    return true;
  }();
  (void)k_ready;
}

const std::string& load_tls_certificates() {
  ensure_library();
  static std::once_flag once;
  std::call_once(once, [] {
    if (!g_deferred_ca_bundle.empty()) {
      check(git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, g_deferred_ca_bundle.c_str(), nullptr),
            "cannot load the CA certificates in \"" + g_deferred_ca_bundle + "\"");
    }
  });
  return g_deferred_ca_bundle;
}

std::filesystem::path workdir(git_repository* repo) {
  const char* dir = git_repository_workdir(repo);
  return dir == nullptr ? std::filesystem::path() : std::filesystem::path(dir);
}

namespace {

// libgit2 refuses a repository another user owns unless safe.directory lists it. 1.5.1 says so
// with GIT_EOWNER when safe.directory is set to something else, but with GIT_ENOTFOUND ("config
// value 'safe.directory' was not found") when it is not set at all: then the repository is
// found without the owner check (git_repository_discover does none).
[[noreturn]] void refuse_foreign_owner(const std::filesystem::path& path, int rc) {
  std::string reason;
  if (rc == GIT_EOWNER) {
    const git_error* e = git_error_last();
    reason = e != nullptr && e->message != nullptr ? e->message : "";
  }
  git_buf found{};
  const bool exists = git_repository_discover(&found, path.c_str(), 0, nullptr) == 0;
  std::string repo_path = exists && found.ptr != nullptr ? found.ptr : path.string();
  git_buf_dispose(&found);
  if (reason.empty()) {
    reason = "repository path '" + repo_path + "' is not owned by current user";
  }
  std::filesystem::path work = std::filesystem::path(repo_path).parent_path();
  if (work.filename() == ".git") {
    work = work.parent_path();
  }
  throw InputError("git refuses the repository at \"" + util::text::printable(repo_path) +
                   "\": " + util::text::printable(reason) +
                   ". Another user owns it; if you trust it, add it to git's safe.directory: git "
                   "config --global --add safe.directory " +
                   util::text::printable(work.string()));
}

} // namespace

std::optional<Repository> discover(const std::filesystem::path& path) {
  ensure_library();
  git_repository* raw = nullptr;
  const int rc = git_repository_open_ext(&raw, path.c_str(), 0, nullptr);
  if (rc == GIT_EOWNER) {
    refuse_foreign_owner(path, rc);
  }
  if (rc == GIT_ENOTFOUND) {
    git_buf found{};
    const bool exists = git_repository_discover(&found, path.c_str(), 0, nullptr) == 0;
    git_buf_dispose(&found);
    if (exists) {
      refuse_foreign_owner(path, rc);
    }
    return std::nullopt;
  }
  check(rc, "cannot open the git repository at \"" + path.string() + "\"");
  return Repository(raw);
}

RegistryRepository registry_repository(const std::filesystem::path& root, const std::string& why) {
  auto repo = discover(root);
  if (!repo) {
    throw InputError(why + " needs git, and \"" + root.string() +
                     "\" is not inside a git repository");
  }
  const std::filesystem::path work_tree = workdir(repo->get());
  if (work_tree.empty()) {
    throw InputError(why + " needs a work tree; the repository at \"" + root.string() +
                     "\" is bare");
  }
  std::error_code ec;
  const std::filesystem::path canonical_root = std::filesystem::weakly_canonical(root, ec);
  const std::filesystem::path canonical_workdir = std::filesystem::weakly_canonical(work_tree, ec);
  std::string prefix = canonical_root.lexically_relative(canonical_workdir).generic_string();
  prefix = prefix == "." || prefix.empty() ? "" : prefix + "/";
  return {share(std::move(*repo)), prefix};
}

std::optional<Commit> find_commit(git_repository* repo, const std::string& revision) {
  git_object* raw = nullptr;
  const int rc = git_revparse_single(&raw, repo, (revision + "^{commit}").c_str());
  if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC || rc == GIT_EUNBORNBRANCH) {
    return std::nullopt;
  }
  if (rc == GIT_EAMBIGUOUS) {
    throw InputError("ambiguous git revision \"" + revision + "\"");
  }
  check(rc, "cannot resolve \"" + revision + "\"");
  return Commit(reinterpret_cast<git_commit*>(raw));
}

namespace {
struct ObjectHeader {
  std::size_t size = 0;
  git_object_t type = GIT_OBJECT_INVALID;
};

// The size and type git's object header gives, read without loading the object.
ObjectHeader read_header(git_repository* repo, const git_oid& id, const std::string& what) {
  git_odb* raw = nullptr;
  check(git_repository_odb(&raw, repo), "cannot open the object database");
  const std::unique_ptr<git_odb, GitDeleter<git_odb, git_odb_free>> odb(raw);
  ObjectHeader header;
  check(git_odb_read_header(&header.size, &header.type, odb.get(), &id), "cannot read " + what);
  return header;
}

git_object_t object_type(git_repository* repo, const git_oid& id) {
  return read_header(repo, id, oid_hex(id)).type;
}
} // namespace

void check_object_size(git_repository* repo, const git_oid& id, const std::string& what) {
  const std::size_t size = read_header(repo, id, what).size;
  if (size > k_max_object_bytes) {
    throw ObjectTooLarge(what, SourcePosition{},
                         "file too large: " + std::to_string(size) + " bytes, more than the " +
                             std::to_string(k_max_object_bytes >> 20) +
                             " MiB promptops reads of one git object");
  }
}

namespace {
// "a commit", "a tree", "a blob", "a tag of a tree", ...: what object `id` is, for messages.
std::string describe_object(git_repository* repo, const git_oid& id) {
  const git_object_t type = object_type(repo, id);
  if (type != GIT_OBJECT_TAG) {
    return std::string("a ") + git_object_type2string(type);
  }
  check_object_size(repo, id, "tag " + oid_hex(id));
  git_tag* raw = nullptr;
  check(git_tag_lookup(&raw, repo, &id), "cannot read tag " + oid_hex(id));
  const std::unique_ptr<git_tag, GitDeleter<git_tag, git_tag_free>> tag(raw);
  return std::string("a tag of a ") + git_object_type2string(git_tag_target_type(tag.get()));
}
} // namespace

void require_commit(git_repository* repo, const git_oid& id, const std::string& label,
                    const std::string& remedy) {
  if (object_type(repo, id) != GIT_OBJECT_COMMIT) {
    throw InputError(
        label + " points at " + describe_object(repo, id) + " (" + oid_hex(id).substr(0, 7) +
        "), not a commit: neither promptops nor git's own commands write that" + remedy);
  }
}

std::optional<Commit> branch_commit(git_repository* repo, const std::string& ref) {
  git_oid id;
  const int rc = git_reference_name_to_id(&id, repo, ref.c_str());
  if (rc == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  check(rc, "cannot read " + ref);
  const std::string branch = ref.rfind("refs/heads/", 0) == 0 ? ref.substr(11) : ref;
  require_commit(repo, id, branch,
                 ". Point it back at a commit (git reflog " + branch +
                     " lists where it was) or delete it (git update-ref -d " + ref + ")");
  return lookup_commit(repo, id, branch);
}

Commit lookup_commit(git_repository* repo, const git_oid& id, const std::string& what) {
  check_object_size(repo, id, what + " (commit " + oid_hex(id).substr(0, 7) + ")");
  git_commit* raw = nullptr;
  check(git_commit_lookup(&raw, repo, &id), "cannot read " + what);
  return Commit(raw);
}

TreeSource::TreeSource(SharedRepository repo, Commit commit, std::string prefix, std::string label)
    : m_repo(std::move(repo)), m_commit(std::move(commit)), m_prefix(std::move(prefix)),
      m_label(std::move(label)) {
  check_object_size(m_repo.get(), *git_commit_tree_id(m_commit.get()), m_label);
  git_tree* raw = nullptr;
  check(git_commit_tree(&raw, m_commit.get()), "cannot read the tree of " + m_label);
  m_tree.reset(raw);
}

TreeSource::TreeSource(SharedRepository repo, Tree tree, std::string prefix, std::string label)
    : m_repo(std::move(repo)), m_tree(std::move(tree)), m_prefix(std::move(prefix)),
      m_label(std::move(label)) {}

std::optional<TreeEntry> TreeSource::entry(std::string_view path) const {
  git_tree_entry* raw_entry = nullptr;
  const std::string full = m_prefix + std::string(path);
  const int rc = git_tree_entry_bypath(&raw_entry, m_tree.get(), full.c_str());
  if (rc == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  check(rc, "cannot read " + display(path));
  return TreeEntry(raw_entry);
}

std::optional<git_oid> TreeSource::blob_id(std::string_view path) const {
  auto found = entry(path);
  if (!found || git_tree_entry_type(found->get()) != GIT_OBJECT_BLOB) {
    return std::nullopt;
  }
  return *git_tree_entry_id(found->get());
}

std::optional<std::string> TreeSource::file_id(std::string_view path) const {
  const auto id = blob_id(path);
  return id ? std::optional<std::string>(oid_hex(*id)) : std::nullopt;
}

std::optional<std::string> TreeSource::read(std::string_view path) const {
  auto found = entry(path);
  if (!found) {
    return std::nullopt;
  }
  if (git_tree_entry_type(found->get()) != GIT_OBJECT_BLOB) {
    throw InputError(display(path), {}, "is a folder, not a file");
  }
  // A blob from a remote may be of any size: its header says, before anything is loaded.
  check_object_size(m_repo.get(), *git_tree_entry_id(found->get()), display(path));
  git_blob* raw_blob = nullptr;
  check(git_blob_lookup(&raw_blob, m_repo.get(), git_tree_entry_id(found->get())),
        "cannot read " + display(path));
  Blob blob(raw_blob);
  const auto* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
  return std::string(data, static_cast<std::size_t>(git_blob_rawsize(blob.get())));
}

namespace {
struct WalkState {
  std::string suffix;
  std::vector<std::string> found;
  std::exception_ptr error;
};

// No exception may cross libgit2's C frames: store it and abort the walk.
int collect_entry(const char* root, const git_tree_entry* entry, void* payload) {
  auto* state = static_cast<WalkState*>(payload);
  try {
    if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
      return 0;
    }
    std::string name = std::string(root) + git_tree_entry_name(entry);
    if (name.size() >= state->suffix.size() &&
        name.compare(name.size() - state->suffix.size(), state->suffix.size(), state->suffix) ==
            0) {
      state->found.push_back(std::move(name));
    }
    return 0;
  } catch (...) {
    state->error = std::current_exception();
    return -1;
  }
}

// Every file below `tree` whose path (relative to `tree`) ends in `suffix`; `what` names
// the tree in errors.
std::vector<std::string> walk_files(const git_tree* tree, std::string_view suffix,
                                    const std::string& what) {
  WalkState state{std::string(suffix), {}, nullptr};
  const int walk = git_tree_walk(tree, GIT_TREEWALK_PRE, collect_entry, &state);
  if (state.error) {
    std::rethrow_exception(state.error);
  }
  check(walk, "cannot list " + what);
  return std::move(state.found);
}
} // namespace

std::vector<std::string> TreeSource::list(std::string_view dir, std::string_view suffix) const {
  const std::string full = m_prefix + std::string(dir);
  git_tree_entry* raw_entry = nullptr;
  const int rc = git_tree_entry_bypath(&raw_entry, m_tree.get(), full.c_str());
  if (rc == GIT_ENOTFOUND) {
    return {};
  }
  check(rc, "cannot list " + display(dir));
  TreeEntry entry(raw_entry);
  if (git_tree_entry_type(entry.get()) != GIT_OBJECT_TREE) {
    return {};
  }
  check_object_size(m_repo.get(), *git_tree_entry_id(entry.get()), display(dir));
  git_tree* raw_tree = nullptr;
  check(git_tree_lookup(&raw_tree, m_repo.get(), git_tree_entry_id(entry.get())),
        "cannot list " + display(dir));
  Tree tree(raw_tree);
  std::vector<std::string> found = walk_files(tree.get(), suffix, display(dir));
  std::string base(dir);
  if (!base.empty() && base.back() != '/') {
    base += '/';
  }
  for (auto& name : found) {
    name = base + name;
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::vector<std::string> TreeSource::files() const {
  std::vector<std::string> found = walk_files(m_tree.get(), "", m_label);
  if (m_prefix.empty()) {
    return found;
  }
  std::vector<std::string> below_prefix;
  for (const auto& name : found) {
    if (name.rfind(m_prefix, 0) == 0) {
      below_prefix.push_back(name.substr(m_prefix.size()));
    }
  }
  return below_prefix;
}

std::string TreeSource::display(std::string_view path) const {
  return m_label + ":" + std::string(path);
}

} // namespace promptops::registry::git
