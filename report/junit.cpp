#include "report/junit.hpp"
