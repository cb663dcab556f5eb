"""cupy.random of the stand-in: default_rng, and a Generator with only methods CuPy 14's Generator has.

CuPy's Generator (cupy/random/_generator_api.pyx) has random, uniform, integers, standard_normal,
standard_exponential, exponential, poisson, binomial and a few more distributions, but no
permutation, shuffle or choice; its bit generators keep their cuRAND states on the device, and
`bit_generator.state` is a method returning a device pointer, so a state cannot be saved or set.
Here the numbers come from NumPy's PCG64 seeded the same way (a SeedSequence), not from cuRAND.
"""

import numpy as np

from . import fake_cupy_cuda as cuda


def _device(array):
    from .fake_cupy import ndarray

    if cuda.capturing is not None:  # the library refuses draws while capturing before they get here
        raise NotImplementedError("the CuPy stand-in cannot record a random draw in a CUDA graph")
    return ndarray._on_device(np.asarray(array))


def _shape(size):
    return () if size is None else size


class BitGenerator:
    def __init__(self, seed=None):
        if not isinstance(seed, np.random.SeedSequence):
            seed = np.random.SeedSequence(seed)
        self._seed_seq = seed
        self._numpy = np.random.PCG64(seed)

    def state(self):
        """A pointer to the states on the device, as CuPy's (an address, not a state to save)."""
        return id(self._numpy)

    def random_raw(self, size=None, output=True):
        values = _device(self._numpy.random_raw(_shape(size)).astype(np.int32, casting="unsafe"))
        return values if output else None


class XORWOW(BitGenerator):
    pass


class MRG32k3a(BitGenerator):
    pass


class Philox4x3210(BitGenerator):
    pass


class Generator:
    def __init__(self, bit_generator):
        self.bit_generator = bit_generator
        self._numpy = np.random.Generator(bit_generator._numpy)

    def _floats(self, draw, size, dtype, out):
        dtype = np.dtype(dtype)
        values = draw(size=_shape(size), dtype=np.float64 if dtype == np.float64 else np.float32).astype(dtype)
        if out is None:
            return _device(values)
        out[...] = _device(values)
        return out

    def random(self, size=None, dtype=np.float64, out=None):
        return self._floats(self._numpy.random, size, dtype, out)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._floats(self._numpy.standard_normal, size, dtype, out)

    def standard_exponential(self, size=None, dtype=np.float64, method="inv", out=None):
        return self._floats(self._numpy.standard_exponential, size, dtype, out)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return _device(self._numpy.uniform(low, high, _shape(size)).astype(dtype))

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return _device(self._numpy.integers(low, high, _shape(size), dtype=dtype, endpoint=endpoint))

    def exponential(self, scale=1.0, size=None):
        return _device(self._numpy.exponential(scale, _shape(size)))

    def poisson(self, lam=1.0, size=None):
        return _device(self._numpy.poisson(lam, _shape(size)))

    def binomial(self, n, p, size=None):
        return _device(self._numpy.binomial(n, p, _shape(size)))


def default_rng(seed=None):
    """A Generator on XORWOW (CuPy's default bit generator), or `seed` itself when it is a Generator."""
    if isinstance(seed, Generator):
        return seed
    if isinstance(seed, BitGenerator):
        return Generator(seed)
    return Generator(XORWOW(seed))
