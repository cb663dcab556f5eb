"""In-place initializers, as torch.nn.init: each fills a tensor's data and returns the tensor.

Draws come from the tensor's device generator, so manual_seed makes them reproducible.
"""

import math

import tensor


def _fill(t, array):
    t._array[...] = array.astype(t.dtype)
    return t


def _fans(t):
    """(fan_in, fan_out) of a weight: a Linear weight (out, in) has fan_in = in, fan_out = out."""
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor of at least 2 dims, got shape {t.shape}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def normal_(t, mean=0.0, std=1.0, generator=None):
    # standard_normal and random are what NumPy's and CuPy's generators both offer
    return _fill(t, tensor.random.pick_generator(t.device, generator).standard_normal(t.shape) * std + mean)


def uniform_(t, a=0.0, b=1.0, generator=None):
    return _fill(t, tensor.random.pick_generator(t.device, generator).random(t.shape) * (b - a) + a)


def constant_(t, value):
    t._array[...] = value
    return t


def zeros_(t):
    return constant_(t, 0)


def ones_(t):
    return constant_(t, 1)


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def xavier_uniform_(t, gain=1.0):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015)."""
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound)
