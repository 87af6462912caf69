#include "mustache/template.hpp"
