#include "golden/drift.hpp"
