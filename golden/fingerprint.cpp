#include "golden/fingerprint.hpp"
