# Every find_package lives here: one place to fix when a dependency moves. The spellings are
# the ones that work with Debian 12's packages (see STYLE.md 7.2).
find_package(CLI11 2.1 CONFIG REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(yaml-cpp 0.7 REQUIRED)          # target `yaml-cpp` (no namespace in 0.7.0)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2>=1.5)   # 1.5.1 ships only libgit2.pc
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle)      # SHA-256 for content-addressed versions
# Debian builds cpp-httplib 0.11 as a shared library: its Cflags (-DCPPHTTPLIB_OPENSSL_SUPPORT
# ...ZLIB... ...BROTLI...) come with the target and must match the library's ABI.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)   # the tests' HTTP servers and clients
# libmicrohttpd 0.9.75 (libmicrohttpd-dev): promptops serve, for the limits a server facing hostile
# clients must hold (per-address connections, memory per connection, event-driven I/O).
pkg_check_modules(MICROHTTPD REQUIRED IMPORTED_TARGET libmicrohttpd>=0.9.75)
find_package(CURL 7.84 REQUIRED)   # headers only: providers/curl_api.cpp loads libcurl when a run calls a provider
find_package(Threads REQUIRED)
# simdjson 3.0 (libsimdjson-dev): reads the big JSON of runs and baselines (results.jsonl, 100 MB
# and more) and the outputs fingerprinted for drift, several times faster than nlohmann/json.
find_package(simdjson 3.0 REQUIRED)          # target simdjson::simdjson
# SQLite 3.40 (libsqlite3-dev): the response cache, one database with a commit per batch of
# replies, where a file per reply cost more kernel time than the rest of a 0 ms run.
find_package(SQLite3 3.37 REQUIRED)          # target SQLite::SQLite3
if(PROMPTOPS_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)            # appends its dir to CMAKE_MODULE_PATH: include(Catch)
  find_package(ZLIB REQUIRED)                # tests: gzip-compressed provider replies
endif()
# dtl (libdtl-dev) is header-only with no CMake or pkg-config file: check for it here so a
# missing package is a clear message, not a compile error.
find_path(DTL_INCLUDE_DIR dtl/dtl.hpp)
if(NOT DTL_INCLUDE_DIR)
  message(FATAL_ERROR "dtl/dtl.hpp not found: install libdtl-dev (scripts/install-deps does)")
endif()
