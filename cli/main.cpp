#include "cli/run.hpp"

int main(int argc, char* argv[]) {
  return promptops::cli::run(argc, argv);
}
