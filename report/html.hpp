#pragma once

#include "report/run_record.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

namespace promptops::report {

// The page stays under this many bytes whatever the run: past it, case details (evaluations,
// outputs, diffs) are left out, passing cases first, and say so.
inline constexpr std::size_t k_html_max_bytes = 4'500'000;
// Each output shown is cut at this many bytes, with a note.
inline constexpr std::size_t k_html_max_output_bytes = 4096;
// At most this many diffs against the baseline are rendered (regressions and failures first).
inline constexpr std::size_t k_html_max_diffs = 200;

// One self-contained page: no network (no external scripts, styles, fonts or images), works
// from file://. Totals and verdict first (gate reasons), drift findings and provider changes,
// regressions, then a filterable case table (filter by status, suite and provider, and a text
// search over id and reason), each case expandable to its evaluations, its output, and, when
// `baseline` has an output for it that differs, a line diff of baseline against run, folded.
// Everything taken from the run is cleaned (clean_text) and HTML-escaped; the page's one
// inline script is allowed by its hash in a Content-Security-Policy that allows nothing else.
std::string html_report(const RunRecord& run, const BaselineOutputs& baseline = {});

// The script the page runs (filtering, opening the case a link points to), exactly as it
// appears between <script> and </script>.
std::string_view html_report_script();

// The CSP source that allows `script`: "'sha256-<base64 of its SHA-256>'".
std::string csp_script_hash(std::string_view script);

} // namespace promptops::report
