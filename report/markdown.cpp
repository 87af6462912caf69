#include "report/markdown.hpp"
