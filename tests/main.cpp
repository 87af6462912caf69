#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <git2.h>

// One main for every test executable: libgit2 is initialised once, as cli::run does.
int main(int argc, char* argv[]) {
  git_libgit2_init();
  const int result = Catch::Session().run(argc, argv);
  git_libgit2_shutdown();
  return result;
}
