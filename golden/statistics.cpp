#include "golden/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace promptops::golden {

namespace {

// ln(k!) for k = 0..n.
std::vector<double> log_factorials(std::size_t n) {
  std::vector<double> table(n + 1, 0.0);
  for (std::size_t k = 2; k <= n; ++k) {
    table[k] = table[k - 1] + std::log(static_cast<double>(k));
  }
  return table;
}

} // namespace

FisherExact::FisherExact(std::size_t n) : m_log_factorial(log_factorials(n)) {}

double FisherExact::operator()(std::size_t a, std::size_t b, std::size_t c, std::size_t d) const {
  const std::vector<double>& lf = m_log_factorial;
  const std::size_t n = a + b + c + d;
  if (n >= lf.size()) {
    return FisherExact(n)(a, b, c, d);
  }
  const std::size_t row1 = a + b;
  const std::size_t row2 = c + d;
  const std::size_t col1 = a + c;
  const double denominator = lf[n] - lf[col1] - lf[n - col1];
  // The probability of the table whose top-left cell is `x` (hypergeometric).
  const auto log_p = [&](std::size_t x) {
    return lf[row1] - lf[x] - lf[row1 - x] + lf[row2] - lf[col1 - x] - lf[row2 - col1 + x] -
           denominator;
  };
  const double observed = log_p(a);
  const std::size_t low = col1 > row2 ? col1 - row2 : 0;
  const std::size_t high = std::min(row1, col1);
  double p = 0;
  for (std::size_t x = low; x <= high; ++x) {
    // The relative tolerance of R's fisher.test, so that equal probabilities count as equal.
    if (const double lp = log_p(x); lp <= observed + 1e-7) {
      p += std::exp(lp);
    }
  }
  return std::min(1.0, p);
}

double fisher_exact(std::size_t a, std::size_t b, std::size_t c, std::size_t d) {
  return FisherExact(a + b + c + d)(a, b, c, d);
}

double mann_whitney(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n1 = x.size();
  const std::size_t n2 = y.size();
  if (n1 == 0 || n2 == 0) {
    return 1;
  }
  std::vector<std::pair<double, bool>> all; // value, from x
  all.reserve(n1 + n2);
  for (const double v : x) {
    all.emplace_back(v, true);
  }
  for (const double v : y) {
    all.emplace_back(v, false);
  }
  std::sort(all.begin(), all.end(), [](const auto& l, const auto& r) { return l.first < r.first; });
  const double n = static_cast<double>(n1 + n2);
  double rank_sum = 0; // of x
  double ties = 0;     // sum of t^3 - t over groups of equal values
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) {
      ++j;
    }
    const double t = static_cast<double>(j - i);
    const double rank = static_cast<double>(i + j + 1) / 2; // 1-based ranks i+1..j, averaged
    for (std::size_t k = i; k < j; ++k) {
      rank_sum += all[k].second ? rank : 0;
    }
    ties += t * t * t - t;
    i = j;
  }
  const double m1 = static_cast<double>(n1);
  const double m2 = static_cast<double>(n2);
  const double u = rank_sum - m1 * (m1 + 1) / 2;
  const double mean = m1 * m2 / 2;
  const double variance = m1 * m2 / 12 * ((n + 1) - ties / (n * (n - 1)));
  if (!(variance > 0)) {
    return 1;
  }
  const double z = std::max(0.0, std::abs(u - mean) - 0.5) / std::sqrt(variance);
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

double sign_test(std::size_t k, std::size_t n) {
  if (n == 0 || k > n) {
    return 1;
  }
  const std::size_t low = std::min(k, n - k);
  if (2 * low == n) {
    return 1;
  }
  // 2 * P(X <= low) for X ~ Binomial(n, 1/2), summed in log space so that big n stays finite.
  const double nn = static_cast<double>(n);
  const double log_total = std::lgamma(nn + 1) - nn * std::log(2.0);
  double p = 0;
  for (std::size_t i = 0; i <= low; ++i) {
    const double x = static_cast<double>(i);
    p += std::exp(log_total - std::lgamma(x + 1) - std::lgamma(nn - x + 1));
  }
  return std::min(1.0, 2 * p);
}

double wilcoxon_signed_rank(const std::vector<double>& differences) {
  std::vector<std::pair<double, bool>> d; // |difference|, positive
  d.reserve(differences.size());
  for (const double x : differences) {
    if (x != 0 && std::isfinite(x)) {
      d.emplace_back(std::abs(x), x > 0);
    }
  }
  const std::size_t n = d.size();
  if (n == 0) {
    return 1;
  }
  std::sort(d.begin(), d.end(), [](const auto& l, const auto& r) { return l.first < r.first; });
  double w_plus = 0;
  double ties = 0; // sum of t^3 - t over groups of equal |difference|
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && d[j].first == d[i].first) {
      ++j;
    }
    const double t = static_cast<double>(j - i);
    const double rank = static_cast<double>(i + j + 1) / 2;
    for (std::size_t k = i; k < j; ++k) {
      w_plus += d[k].second ? rank : 0;
    }
    ties += t * t * t - t;
    i = j;
  }
  const double m = static_cast<double>(n);
  const double mean = m * (m + 1) / 4;
  if (n <= 25 && ties == 0) {
    // Exact: how many of the 2^n sign patterns give each rank sum of the positive ones.
    const std::size_t top = n * (n + 1) / 2;
    std::vector<double> ways(top + 1, 0.0);
    ways[0] = 1;
    for (std::size_t r = 1; r <= n; ++r) {
      for (std::size_t s = top; s >= r; --s) {
        ways[s] += ways[s - r];
      }
    }
    const auto w = static_cast<std::size_t>(std::llround(w_plus));
    const std::size_t low = std::min(w, top - w);
    double tail = 0;
    for (std::size_t s = 0; s <= low; ++s) {
      tail += ways[s];
    }
    return std::min(1.0, 2 * tail / std::ldexp(1.0, static_cast<int>(n)));
  }
  const double variance = m * (m + 1) * (2 * m + 1) / 24 - ties / 48;
  if (!(variance > 0)) {
    return 1;
  }
  const double z = std::max(0.0, std::abs(w_plus - mean) - 0.5) / std::sqrt(variance);
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

double median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  const std::size_t n = values.size();
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(n / 2),
                   values.end());
  const double upper = values[n / 2];
  if (n % 2 == 1) {
    return upper;
  }
  const double lower =
      *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(n / 2));
  return (lower + upper) / 2;
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size()));
  const std::size_t i = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return values[std::min(i, values.size() - 1)];
}

} // namespace promptops::golden
