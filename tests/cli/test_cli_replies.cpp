// Placeholder: filled in by issue 17's work.
#include <catch2/catch.hpp>
