#include "report/html.hpp"
