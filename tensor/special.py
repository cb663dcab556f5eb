"""The error function erf, which exact GELU needs and NumPy lacks.

float32: Abramowitz & Stegun 7.1.26, erf(x) ~ 1 - (a1 t + ... + a5 t^5) exp(-x^2) with
t = 1 / (1 + p|x|): the formula is within 1.5e-7 of erf and, computed in float32, within
4 float32 ulps of it (measured). Each step writes into one of two arrays made once (`out=`, `*=`), so
the 19 passes over the array allocate two arrays, not one each. (SciPy's scipy.special.erf is one call, but
measured several times slower than these passes on a (16, 64, 512) float32 array, so it is not used.)
float64 (what gradient checks use): the two expansions below.

|x| < 2: the Maclaurin series erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)).
|x| >= 2: erf(x) = 1 - erfc(x), with erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
(Laplace's continued fraction), evaluated from a fixed depth back to the top.
The number of terms is chosen so results match math.erf to about 1e-15. The sums
run in float64 (in float32 the alternating series loses ~1e-6 to cancellation).
On "cuda", backend.erf uses CuPy's own erf instead.
"""

import math

import numpy as np

SERIES_TERMS, FRACTION_DEPTH = 34, 80
ABRAMOWITZ_STEGUN_P = 0.3275911
ABRAMOWITZ_STEGUN_COEFFICIENTS = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)  # a1 ... a5


def erf(x):
    """erf of a NumPy float array, elementwise, in the array's dtype."""
    if x.dtype != np.float64:
        return _erf_float32(x.astype(np.float32, copy=False))
    dtype, x = x.dtype, x.astype(np.float64)
    out = np.empty_like(x)
    small = np.abs(x) < 2
    xs = x[small]
    term, total, x2 = xs.copy(), xs.copy(), xs * xs
    for n in range(1, SERIES_TERMS):
        term *= -x2 / n  # term_n = (-1)^n x^(2n+1) / n!
        total += term / (2 * n + 1)
    out[small] = total * (2 / math.sqrt(math.pi))
    xl = np.abs(x[~small])
    fraction = xl.copy()
    for n in range(FRACTION_DEPTH, 0, -1):
        fraction = xl + (n / 2) / fraction
    erfc = np.exp(-xl * xl) / (math.sqrt(math.pi) * fraction)
    out[~small] = np.copysign(1 - erfc, x[~small])
    return out.astype(dtype, copy=False)


def _erf_float32(x):
    """A&S 7.1.26: erf(x) = sign(x) (1 - (a1 t + a2 t^2 + ... + a5 t^5) exp(-x^2)), t = 1 / (1 + p |x|)."""
    shape, x = x.shape, x.reshape(-1)  # 1-D: NumPy's ufuncs return a scalar, not an array, for a 0-d input
    t = np.abs(x)
    t *= ABRAMOWITZ_STEGUN_P
    t += 1
    np.reciprocal(t, out=t)
    polynomial = np.multiply(t, ABRAMOWITZ_STEGUN_COEFFICIENTS[-1])  # Horner: ((a5 t + a4) t + ... + a1) t
    for a in reversed(ABRAMOWITZ_STEGUN_COEFFICIENTS[:-1]):
        polynomial += a
        polynomial *= t
    gaussian = np.multiply(x, x, out=t)  # t is no longer needed: its memory holds exp(-x^2)
    np.negative(gaussian, out=gaussian)
    np.exp(gaussian, out=gaussian)
    polynomial *= gaussian
    np.subtract(1, polynomial, out=polynomial)
    return np.copysign(polynomial, x, out=polynomial).reshape(shape)
