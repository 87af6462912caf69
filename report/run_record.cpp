#include "report/run_record.hpp"
