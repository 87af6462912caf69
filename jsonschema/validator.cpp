#include "jsonschema/validator.hpp"
