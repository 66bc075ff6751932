"""Tail probabilities for counts, summed in log space so that tiny tails stay accurate.

Shared by the count rules; each returns P(X >= k) (or P(X <= k) for `poisson_cdf`).
"""

from __future__ import annotations

import math


def _sum_up(log_first: float, ratio, k: int) -> float:
    """Sum pmf(k) + pmf(k+1) + ... given log pmf(k) and pmf(i+1)/pmf(i) = ratio(i)."""
    total, term, i = 0.0, math.exp(log_first), k
    while term > 1e-300 and i < k + 100_000:
        total += term
        term *= ratio(i)
        i += 1
        if term < total * 1e-12:
            break
    return min(total, 1.0)


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    log_pmf = -lam + k * math.log(lam) - math.lgamma(k + 1)
    return _sum_up(log_pmf, lambda i: lam / (i + 1), k)


def poisson_cdf(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam): how improbable a silence is."""
    if k < 0:
        return 0.0
    if lam <= 0:
        return 1.0
    return min(1.0, math.fsum(math.exp(-lam + i * math.log(lam) - math.lgamma(i + 1)) for i in range(k + 1)))


def nbinom_sf(k: int, mean: float, size: float) -> float:
    """P(X >= k) for a negative binomial with this mean and size (variance mean + mean^2/size).

    Real mention counts are burstier than Poisson; the size keeps ordinary bursts from firing."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    p = size / (size + mean)
    log_pmf = (math.lgamma(k + size) - math.lgamma(size) - math.lgamma(k + 1)
               + size * math.log(p) + k * math.log1p(-p))
    q = 1.0 - p
    return _sum_up(log_pmf, lambda i: (i + size) / (i + 1) * q, k)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_pmf = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)
    odds = p / (1 - p)
    return _sum_up(log_pmf, lambda i: (n - i) / (i + 1) * odds if i < n else 0.0, k)
