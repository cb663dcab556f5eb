"""GELU in few passes over memory: the engine room's stand-in for nn.functional.GELU on the CPU.

The textbook GELU computes y = x Phi(x) in forward and dy/dx = Phi(x) + x phi(x) in backward, each
step a NumPy call that reads and writes the whole array (a "pass"), erf alone about twenty of them.
This stand-in computes the same formulas (the same Abramowitz & Stegun erf for the exact form) with
four devices:

- one exp for both directions: erf's tail factor exp(-x^2 / 2) is, up to a constant, the normal
  density phi(x) that the derivative needs, so forward computes it once and the constants fold
  into the polynomial's coefficients;
- the derivative in forward: forward saves dy/dx itself, and backward is one product, grad * dy/dx
  (it saves one array where the textbook saves two, x and Phi(x));
- in-place passes (`out=`) into three scratch arrays of one block, kept by each thread from call to call,
  instead of a new array per step (glibc hands a freed array of this size back to the system, and taking
  it again costs a page fault per 4 KiB: measured, more than the passes themselves);
- blocks (tensor/fast/threads.py's for_each_block): the passes run over one block of BLOCK_ELEMENTS
  elements at a time (the scratch arrays stay one block's size), and a large array in two halves on two
  threads when the second core is free. The blocks are large: each of a block's NumPy calls hands Python's
  lock to the other thread and takes it back, and on this project's 2-core VM such a hand-over costs about
  what a pass over 64K elements does (issue 32's shape, (16, 64, 512): forward 3.1 ms with blocks of 2^16
  elements, 2.1 ms with 2^18, one block per half; on one thread the block size made no difference).

The tanh form, Phi(x) ~ (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3), is computed as
the logistic function 1 / (1 + exp(-2u)), which equals it and costs one exp where NumPy's tanh
costs about two; its derivative follows from sigma' = sigma (1 - sigma).

Counting passes over the array (one NumPy call each; exp costs about ten of the others, copysign four):
  exact form, forward with the derivative: 23 (inference: 21); backward: 1.
  tanh form, forward with the derivative: 15 (inference: 8); backward: 1.
The textbook: exact, forward 23 (19 of them erf's) and backward 7; tanh, forward 8 (a power and a
tanh among them, each several times a product's cost) and backward 13.

float32 NumPy arrays only; any other dtype, and "cuda", run the textbook op.
tests/fast/test_gelu_fast.py holds this op equal to the textbook one.
"""

import math
import threading

import numpy as np

from nn.functional import GELU
from tensor.fast import threads
from tensor.kernels import register_stand_in
from tensor.special import ABRAMOWITZ_STEGUN_COEFFICIENTS, ABRAMOWITZ_STEGUN_P

BLOCK_ELEMENTS = 1 << 18  # elements per block: each thread's three float32 scratch arrays take 3 MiB

# Phi(-a) = erfc(a / sqrt 2) / 2 ~ P(t) exp(-a^2 / 2) / 2 with t = 1 / (1 + p a / sqrt 2) (A&S 7.1.26). Write
# t = k / (a + k) with k = sqrt 2 / p, and exp(-a^2 / 2) = sqrt(2 pi) phi(a): then Phi(-a) = phi(a) * sum_i c_i s^i
# with s = 1 / (a + k) and c_i = a_i k^i sqrt(2 pi) / 2, one pass fewer for t and none for the constants.
_K = math.sqrt(2) / ABRAMOWITZ_STEGUN_P
_MILLS = [a * _K ** (i + 1) * math.sqrt(2 * math.pi) / 2 for i, a in enumerate(ABRAMOWITZ_STEGUN_COEFFICIENTS)]
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_K, _TANH_C = math.sqrt(2 / math.pi), 0.044715
_kept = threading.local()  # .arrays: this thread's scratch arrays


def scratch(n):
    """Three float32 arrays of n elements, this thread's own, the same memory from call to call."""
    arrays = getattr(_kept, "arrays", None)
    if arrays is None or arrays[0].size < n:
        arrays = _kept.arrays = [np.empty(max(n, BLOCK_ELEMENTS), np.float32) for _ in range(3)]
    return [a[:n] for a in arrays]


class FastGELU(GELU):
    """nn.functional.GELU on float32 CPU arrays in few passes; see the module docstring."""

    def forward(self, x, approximate, y=None, slope=None):
        """y, slope: C-ordered arrays of x's shape to write y and dy/dx into (a compiled step's,
        nn/fast/into_forms.py), or None"""
        if self.xp is not np or x.dtype != np.float32:
            self.fused = False
            return super().forward(x, approximate)
        self.fused = True
        flat = np.ascontiguousarray(x).reshape(-1)
        y = np.empty_like(flat) if y is None else y.reshape(-1)
        if self.needs_input_grad:  # dy/dx, only when a gradient is wanted
            slope = np.empty_like(flat) if slope is None else slope.reshape(-1)
        one_block = exact_block if approximate == "none" else tanh_block

        def run(part):
            # x^2 overflows for |x| > 1.8e19 (where y = x all the same); nan in, nan out
            with np.errstate(over="ignore", invalid="ignore"):
                block = flat[part]
                one_block(block, y[part], None if slope is None else slope[part], scratch(block.size))

        # each element a "row" of BLOCK_BYTES / BLOCK_ELEMENTS bytes: for_each_block then makes blocks of
        # BLOCK_ELEMENTS elements, in two halves on two threads for a large array
        threads.for_each_block(run, flat.size, max(1, threads.BLOCK_BYTES // BLOCK_ELEMENTS), "cpu")
        if slope is not None:
            self.save_for_backward(slope.reshape(x.shape))
        return y.reshape(x.shape)

    def backward(self, grad):
        if not self.fused:
            return super().backward(grad)
        (slope,) = self.saved
        return grad * slope


def exact_block(x, y, slope, scratch):
    """y = x Phi(x) and (if slope is not None) slope = Phi(x) + x phi(x), Phi by A&S 7.1.26, into y and slope,
    with scratch: three arrays of x's size.

    With q = Phi(-|x|), which has no sign, Phi(x) = 1/2 + sign(x) (1/2 - q) (x > 0: 1 - q; x < 0: q): one
    copysign, where a masked step ("1 - q where x > 0") costs NumPy ten passes."""
    phi, s, p = scratch[:3]
    np.multiply(x, x, out=phi)  # phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    phi *= -0.5
    np.exp(phi, out=phi)
    phi *= _INV_SQRT_2PI
    np.abs(x, out=s)  # s = 1 / (|x| + k); a division, which NumPy vectorizes, where its reciprocal does not
    s += _K
    np.divide(1, s, out=s)
    np.multiply(s, _MILLS[-1], out=p)  # q = Phi(-|x|) = phi(x) (c1 s + c2 s^2 + ... + c5 s^5), by Horner's rule
    for c in reversed(_MILLS[:-1]):
        p += c
        p *= s
    p *= phi
    np.subtract(0.5, p, out=p)  # p = Phi(x) = 1/2 + sign(x) (1/2 - q)
    np.copysign(p, x, out=p)
    p += 0.5
    np.multiply(x, p, out=y)
    if slope is not None:
        np.multiply(x, phi, out=slope)
        slope += p


def tanh_block(x, y, slope, scratch):
    """y = x sigma(2u), u = sqrt(2/pi) (x + 0.044715 x^3), and (if slope is not None) its derivative
    sigma + 2 x sigma (1 - sigma) u'(x) with u'(x) = sqrt(2/pi) (1 + 3 * 0.044715 x^2), into y and slope,
    with scratch: two arrays (or more) of x's size."""
    x2, sigma = scratch[:2]
    np.multiply(x, x, out=x2)
    np.multiply(x2, -2 * _TANH_K * _TANH_C, out=sigma)  # -2u = x (-2k - 2kc x^2)
    sigma -= 2 * _TANH_K
    sigma *= x
    np.exp(sigma, out=sigma)  # inf for very negative x (overflow ignored): sigma = 1 / inf = 0, as it should
    sigma += 1
    np.divide(1, sigma, out=sigma)  # sigma(2u) = (1 + tanh u) / 2
    np.multiply(x, sigma, out=y)
    if slope is not None:
        x2 *= 6 * _TANH_K * _TANH_C  # 2 x u'(x) = x (2k + 6kc x^2)
        x2 += 2 * _TANH_K
        x2 *= x
        np.subtract(1, sigma, out=slope)
        slope *= x2
        slope *= sigma
        slope += sigma


register_stand_in(GELU, FastGELU, "fused GELU")
