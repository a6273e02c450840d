"""The order statistics Cardinal uses, computed the way its Rust code computes them, to the last bit.

Cardinal (Rust) takes quartiles and percentiles from statrs' `Data::quantile`, the median-unbiased estimator
(Hyndman and Fan's type 8): h = (n + 1/3) tau + 1/3, interpolating between the order statistics around h.
Its fences are `(q3 - q1).mul_add(k, q)`: a fused multiply-add, rounded once. Python 3.11 has no math.fma,
so the product and sum are taken exactly (Fraction) and rounded once, which is what a fused multiply-add is.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from fractions import Fraction

NAN = float("nan")


def quantile(values: Iterable[float], tau: float) -> float:
    """statrs' `Data::quantile(tau)` of `values` (NaN for no values)."""
    data = sorted(values)
    return quantile_sorted(data, tau)


def quantile_sorted(data: list[float], tau: float) -> float:
    """`quantile` of already sorted values (sort once, take several quantiles)."""
    n = len(data)
    if not 0.0 <= tau <= 1.0 or n == 0:
        return NAN
    h = (n + 1.0 / 3.0) * tau + 1.0 / 3.0
    hf = int(h)  # truncates toward zero, like Rust's `as i64`; h > 0 here
    if hf <= 0 or tau == 0.0:
        return data[0]
    if hf >= n or _ulps_eq(tau, 1.0):
        return data[-1]
    a = data[hf - 1]
    b = data[hf]
    return a + (h - hf) * (b - a)


def _ulps_eq(a: float, b: float) -> bool:
    """approx's `ulps_eq!` with its defaults (epsilon f64::EPSILON, 4 ulps), enough for tau against 1.0."""
    if abs(a - b) <= 2.220446049250313e-16:
        return True
    return abs(_ordered_bits(a) - _ordered_bits(b)) <= 4


def _ordered_bits(x: float) -> int:
    bits: int = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def fma(x: float, y: float, z: float) -> float:
    """x * y + z rounded once (Rust's f64::mul_add); NaN in, NaN out."""
    if math.isnan(x) or math.isnan(y) or math.isnan(z):
        return NAN
    if math.isinf(x) or math.isinf(y) or math.isinf(z):
        return x * y + z
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def lower_fence(q1: float, q3: float) -> float:
    """Q1 - 1.5 IQR, as Cardinal computes it."""
    return fma(q3 - q1, -1.5, q1)


def upper_fence(q1: float, q3: float) -> float:
    """Q3 + 1.5 IQR, as Cardinal computes it."""
    return fma(q3 - q1, 1.5, q3)


def round4(x: float) -> float:
    """Cardinal's rounding of Meta values: (x * 10000).round() / 10000, halves away from zero."""
    if math.isnan(x) or math.isinf(x):
        return x
    y = x * 10_000.0
    t = float(math.trunc(y))
    if abs(y - t) >= 0.5:
        t += math.copysign(1.0, y)
    return t / 10_000.0
