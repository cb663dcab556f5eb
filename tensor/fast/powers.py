"""x ** n for a small whole n by products: the engine room's stand-in for tensor.ops.PowScalar on the CPU.

NumPy runs x ** 2 as x * x but any other exponent through its general power routine, about thirty times
the cost of a product per element: x ** 3, which the tanh-form GELU of minGPT and makemore writes out
(`0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * torch.pow(x, 3.0))))`), cost more than the rest of that
GELU together. For a whole exponent from 3 to MAX_EXPONENT this stand-in multiplies instead (x ** 3 = (x * x) * x,
in place into one array), in forward and in backward's x ** (n - 1); other exponents, non-float arrays and "cuda"
(where the power is one kernel already) run the textbook op. The products round up to log2(n) + 1 times where
the power rounds once: a few float ulps, tested against the textbook in tests/fast/test_powers_fast.py.
"""

import numpy as np

from tensor.kernels import register_stand_in
from tensor.ops.elementwise import PowScalar

MAX_EXPONENT = 8


def whole_exponent(exponent):
    """exponent as an int when it is a Python int or float with a whole value from 3 to MAX_EXPONENT, else None.
    (A NumPy scalar may change the result's dtype, as NumPy's rules make x ** np.float64(3) float64: the textbook's.)"""
    if type(exponent) not in (int, float):
        return None
    if float(exponent).is_integer() and 3 <= exponent <= MAX_EXPONENT:
        return int(exponent)
    return None


def power_by_products(x, n):
    """x ** n for a whole n >= 1, by squaring and multiplying (n = 5: x^2, x^4, x^4 * x), into one new array."""
    shape, base = x.shape, x.reshape(-1)  # 1-D: NumPy's ufuncs return a scalar, not an array, for a 0-d input
    out, first = None, True
    while n:
        if n & 1:
            out = base.copy() if first else np.multiply(out, base, out=out)
            first = False
        n >>= 1
        if n:
            base = np.multiply(base, base)
    return out.reshape(shape)


class FastPowScalar(PowScalar):
    """PowScalar with x ** n by products for a whole n from 3 to MAX_EXPONENT on float CPU arrays."""

    def forward(self, x, exponent):
        n = whole_exponent(exponent)
        self.by_products = n is not None and self.xp is np and x.dtype.kind == "f"
        if not self.by_products:
            return super().forward(x, exponent)
        self.save_for_backward(x)
        self.exponent = exponent
        return power_by_products(x, n)

    def backward(self, grad):
        if not self.by_products:
            return super().backward(grad)
        (x,) = self.saved
        slope = power_by_products(x, int(self.exponent) - 1)  # x ** (n - 1), n - 1 >= 2
        slope *= self.exponent
        return grad * slope


register_stand_in(PowScalar, FastPowScalar, "integer powers")
