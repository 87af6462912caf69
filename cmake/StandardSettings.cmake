# Two INTERFACE targets hold every flag (ccache's standard_settings/standard_warnings); every
# first-party target links them PRIVATE, no third-party code does.
add_library(promptops_settings INTERFACE)
target_compile_features(promptops_settings INTERFACE cxx_std_20)
target_compile_definitions(promptops_settings INTERFACE $<$<CONFIG:Debug>:_GLIBCXX_ASSERTIONS>)
if(PROMPTOPS_SANITIZE)
  string(REPLACE ";" "," _promptops_san "${PROMPTOPS_SANITIZE}")
  target_compile_options(promptops_settings INTERFACE -fsanitize=${_promptops_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(promptops_settings INTERFACE -fsanitize=${_promptops_san})
endif()

add_library(promptops_warnings INTERFACE)
# -Wnull-dereference stays a warning, not an error: it only works when optimising, and GCC 12
# then reports nulls that cannot be inside nlohmann/json, CLI11 and libstdc++ code inlined
# into ours (every report so far was one of those). -Wrestrict likewise: at -O3 GCC 12 reports
# overlapping copies inside libstdc++'s own `"v" + std::to_string(n)` (GCC bug 105651), and
# which of our files it hits changes with what the optimiser inlines.
target_compile_options(promptops_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wnull-dereference -Wcast-align -Wextra-semi -Wunused
  "$<$<BOOL:${PROMPTOPS_WERROR}>:-Werror;-Wno-error=null-dereference;-Wno-error=restrict>")

if(PROMPTOPS_CLANG_TIDY)
  find_program(CLANG_TIDY_EXE NAMES clang-tidy-14 clang-tidy REQUIRED)
  set(CMAKE_CXX_CLANG_TIDY ${CLANG_TIDY_EXE})
endif()

# promptops_module(NAME SOURCES... DEPS ...) declares one static library per module folder.
function(promptops_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(promptops_${name} STATIC ${ARG_SOURCES})
  target_include_directories(promptops_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(promptops_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} promptops_settings promptops_warnings)
endfunction()

# promptops_embed(OUT HEADER NAMESPACE FUNCTION BASE FILES...) generates OUT at build time.
function(promptops_embed out header namespace function base)
  string(REPLACE ";" "|" _files "${ARGN}") # a ';' would split the command line
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DHEADER=${header} -DNAMESPACE=${namespace}
            -DFUNCTION=${function} -DBASE=${base} "-DFILES=${_files}"
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
    DEPENDS ${ARGN} ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
    COMMENT "Embedding ${function}"
    VERBATIM)
endfunction()
