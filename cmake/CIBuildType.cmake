# "CI": optimised code with assertions on (RelWithDebInfo without -DNDEBUG), as ccache does:
# it catches what a Debug build hides.
set(CMAKE_CXX_FLAGS_CI "-O2 -g" CACHE STRING "Flags for the CI build type")
# project() has already put an empty CMAKE_CXX_FLAGS_CI in the cache when the build type is CI,
# and an existing cache entry wins over set(CACHE): without FORCE the CI build was -O0.
if(NOT CMAKE_CXX_FLAGS_CI)
  set(CMAKE_CXX_FLAGS_CI "-O2 -g" CACHE STRING "Flags for the CI build type" FORCE)
endif()
set(CMAKE_EXE_LINKER_FLAGS_CI "" CACHE STRING "")
set(CMAKE_SHARED_LINKER_FLAGS_CI "" CACHE STRING "")
mark_as_advanced(CMAKE_CXX_FLAGS_CI CMAKE_EXE_LINKER_FLAGS_CI CMAKE_SHARED_LINKER_FLAGS_CI)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()
