#pragma once

#include <cstddef>
#include <vector>

// The tests that drift detection rests on, as pure functions of counts and values. Every
// p-value is two-sided and in [0, 1]; none throws. docs/drift.md says where each is used.
namespace promptops::golden {

// The two-sided p-value of Fisher's exact test on the 2x2 table {{a, b}, {c, d}}: the total
// probability of the tables with the same margins that are no more likely than this one.
double fisher_exact(std::size_t a, std::size_t b, std::size_t c, std::size_t d);

// Fisher's exact test for many tables of up to `n` outputs, with ln(k!) computed once.
class FisherExact {
public:
  explicit FisherExact(std::size_t n);
  double operator()(std::size_t a, std::size_t b, std::size_t c, std::size_t d) const;

private:
  std::vector<double> m_log_factorial;
};

// The two-sided p-value of the Mann-Whitney U test of `x` against `y`, by the normal
// approximation with tie and continuity corrections; 1 when either is empty or all values tie.
double mann_whitney(const std::vector<double>& x, const std::vector<double>& y);

// The two-sided p-value of the exact sign test (McNemar's exact test on the discordant pairs):
// `k` of `n` pairs moved one way, the rest the other, against a fair coin. 1 when `n` is 0.
double sign_test(std::size_t k, std::size_t n);

// The two-sided p-value of the Wilcoxon signed-rank test that the paired `differences` (run
// minus baseline, per case) are centred on zero. Zeros are dropped; exact for up to 25 non-zero
// differences without ties, else the normal approximation with tie and continuity corrections.
// 1 when no difference is non-zero.
double wilcoxon_signed_rank(const std::vector<double>& differences);

// The median of `values` (0 when empty).
double median(std::vector<double> values);

// The `q` quantile (0..1) of `values` by the nearest-rank method (0 when empty).
double quantile(std::vector<double> values, double q);

} // namespace promptops::golden
