#pragma once

#include "registry/source.hpp"
#include "util/error.hpp"

#include <git2.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

// Thin RAII over libgit2 1.5.1. This is the only header that includes <git2.h>.
namespace promptops::registry::git {

template <typename T, void (*Free)(T*)> struct GitDeleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using Repository = std::unique_ptr<git_repository, GitDeleter<git_repository, git_repository_free>>;
using Object = std::unique_ptr<git_object, GitDeleter<git_object, git_object_free>>;
using Commit = std::unique_ptr<git_commit, GitDeleter<git_commit, git_commit_free>>;
using Tree = std::unique_ptr<git_tree, GitDeleter<git_tree, git_tree_free>>;
using TreeEntry = std::unique_ptr<git_tree_entry, GitDeleter<git_tree_entry, git_tree_entry_free>>;
using Blob = std::unique_ptr<git_blob, GitDeleter<git_blob, git_blob_free>>;
using Reference = std::unique_ptr<git_reference, GitDeleter<git_reference, git_reference_free>>;
using Config = std::unique_ptr<git_config, GitDeleter<git_config, git_config_free>>;
using Signature = std::unique_ptr<git_signature, GitDeleter<git_signature, git_signature_free>>;
using Index = std::unique_ptr<git_index, GitDeleter<git_index, git_index_free>>;
using Revwalk = std::unique_ptr<git_revwalk, GitDeleter<git_revwalk, git_revwalk_free>>;
using Remote = std::unique_ptr<git_remote, GitDeleter<git_remote, git_remote_free>>;
// A repository handle shared by the sources read from it (one thread at a time).
using SharedRepository = std::shared_ptr<git_repository>;

// Share `repo`'s handle.
inline SharedRepository share(Repository repo) {
  return SharedRepository(repo.release(), git_repository_free);
}

// git_libgit2_init / git_libgit2_shutdown, paired.
class GitLibrary {
public:
  GitLibrary() { git_libgit2_init(); }
  ~GitLibrary() { git_libgit2_shutdown(); }
  GitLibrary(const GitLibrary&) = delete;
  GitLibrary& operator=(const GitLibrary&) = delete;
};

// Initialise libgit2 on first use; it is shut down at exit. Every function here that opens a
// repository calls it. Debian's libgit2 (built on mbedTLS) parses the whole system CA bundle
// in git_libgit2_init: 40% of a `render NAME@prod`'s instructions, for certificates only a
// transfer to an https remote needs. So ensure_library() lets init skip that parse (see
// git.cpp) and load_tls_certificates() loads the same bundle before any transfer.
void ensure_library();

// Loads the CA bundle libgit2 asked for at init, once. Call before talking to a remote.
// Returns the bundle's path ("" when libgit2 asked for none: another TLS backend).
const std::string& load_tls_certificates();

// The 40 hex digits of `id`.
std::string oid_hex(const git_oid& id);

// Throws RunError "what: <libgit2's message>" when `rc` < 0. Reads git_error_last() at once,
// on this thread, tolerating NULL.
void check(int rc, std::string_view what);

// The work tree of `repo` ("" for a bare repository).
std::filesystem::path workdir(git_repository* repo);

// The repository that contains `path` (searching parent folders), or std::nullopt when
// there is none. Throws InputError with libgit2's reason and the safe.directory hint when git
// refuses the repository because another user owns it.
std::optional<Repository> discover(const std::filesystem::path& path);

// The commit `revision` names ("HEAD", a branch, an id), or std::nullopt when it names
// nothing (including HEAD of a repository with no commits yet).
std::optional<Commit> find_commit(git_repository* repo, const std::string& revision);

// The most promptops reads of one git object (a file, a tree, a commit): the 16 MiB a YAML
// file may hold. Objects from a remote can be anything; their size is read from the object's
// header, so a bigger one is refused before it is loaded.
inline constexpr std::size_t k_max_object_bytes = std::size_t{16} << 20;

// An object over k_max_object_bytes: bad input that a listing which passes over broken
// prompts must not pass over.
class ObjectTooLarge : public InputError {
public:
  using InputError::InputError;
};

// Throws ObjectTooLarge "<what>: file too large: N bytes, more than the 16 MiB promptops reads
// from git" when object `id`'s header says it is bigger than k_max_object_bytes. Reads only
// the header.
void check_object_size(git_repository* repo, const git_oid& id, const std::string& what);

// Throws InputError "<label> points at a tree (abc1234), not a commit: ...<remedy>" unless
// object `id` is a commit: what a branch promptops reads must point at.
void require_commit(git_repository* repo, const git_oid& id, const std::string& label,
                    const std::string& remedy);

// The commit branch `ref` ("refs/heads/...") points at, or std::nullopt when there is no such
// branch. Throws InputError naming the branch and what it points at when that is not a commit
// (a tree, a blob, a tag) or a commit over k_max_object_bytes: such a branch was not written by
// promptops or git's own commands.
std::optional<Commit> branch_commit(git_repository* repo, const std::string& ref);

// The commit with id `id`, after checking its size (check_object_size). Throws RunError when
// it cannot be read.
Commit lookup_commit(git_repository* repo, const git_oid& id, const std::string& what);

// The git repository holding a registry, shared, and the registry root's path inside it
// ("" or ending in '/').
struct RegistryRepository {
  SharedRepository repo;
  std::string prefix;
};

// The repository holding the registry at `root`. Throws InputError naming `why` ("promotion")
// when there is none or it is bare.
RegistryRepository registry_repository(const std::filesystem::path& root, const std::string& why);

// Registry files as they are in one commit. `prefix` is the registry root's path inside the
// repository ("" or ending in '/'); `label` shows in messages ("HEAD").
class TreeSource final : public SnapshotSource {
public:
  TreeSource(SharedRepository repo, Commit commit, std::string prefix, std::string label);
  // A tree that no commit holds yet (one being built).
  TreeSource(SharedRepository repo, Tree tree, std::string prefix, std::string label);

  const git_commit* commit() const { return m_commit.get(); } // null for a bare tree
  const git_tree* tree() const { return m_tree.get(); }
  // The blob id of `path`, or std::nullopt when there is no such file.
  std::optional<git_oid> blob_id(std::string_view path) const;

  std::optional<std::string> file_id(std::string_view path) const override;
  std::vector<std::string> files() const override;

  // Throws InputError "file too large" (check_object_size) for a blob over
  // k_max_object_bytes, without loading it.
  std::optional<std::string> read(std::string_view path) const override;
  std::vector<std::string> list(std::string_view dir, std::string_view suffix) const override;
  std::string display(std::string_view path) const override;

private:
  // The entry at `path` below the prefix, or std::nullopt when there is none.
  std::optional<TreeEntry> entry(std::string_view path) const;

  SharedRepository m_repo; // declared first: freed last
  Commit m_commit;
  Tree m_tree;
  std::string m_prefix;
  std::string m_label;
};

} // namespace promptops::registry::git
