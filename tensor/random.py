"""Random numbers: Generator objects and the default generator of each device, as in PyTorch.

Every random function (rand, randn, randint, randperm, multinomial, Tensor.normal_/uniform_,
nn.init, Dropout) draws from a Generator: the one passed as `generator=`, else the default
generator of the tensor's device. `manual_seed(s)` reseeds the default generators, so a program
is reproducible; a Generator of one's own (`g = torch.Generator().manual_seed(42)`) gives a
stream that other draws do not disturb, as the makemore lectures use it. A generator's state is
a plain dict that a checkpoint can hold (get_state / set_state).

On "cpu" the stream is PyTorch's: a Mersenne Twister (MT19937, NumPy's) started from the seed as
PyTorch's CPU generator starts it. randperm consumes it as PyTorch does (a Fisher-Yates shuffle, one
32-bit word per swap), so `manual_seed(s); randperm(n)` gives PyTorch's order, and a data split a
program makes that way holds the same examples here and under PyTorch. The other draws turn the words
into numbers by NumPy's methods, not PyTorch's: the same seed gives other (equally random) values.
"""

import secrets

import numpy as np

from . import backend
from .backend import DEVICES, array_module, normalize_device

SEED_SPACE = 2**64  # seeds are 64-bit, as PyTorch's: manual_seed(-1) is the seed 2**64 - 1
MT_WORDS = 624  # the Mersenne Twister's state: 624 words of 32 bits


def mersenne_twister(seed):
    """NumPy's MT19937 started as PyTorch's CPU generator is: the standard initialization (init_genrand)
    from the seed's low 32 bits, each state word a hash of the one before."""
    key = [seed & 0xFFFFFFFF]
    for i in range(1, MT_WORDS):
        key.append((1812433253 * (key[-1] ^ (key[-1] >> 30)) + i) & 0xFFFFFFFF)
    bits = np.random.MT19937()
    bits.state = {"bit_generator": "MT19937", "state": {"key": np.array(key, dtype=np.uint32), "pos": MT_WORDS}}
    return bits


class Generator:
    """A stream of random numbers on one device, with a state that can be saved and restored exactly.

    On "cpu" one NumPy generator over PyTorch's Mersenne Twister makes every draw (see the module's docstring).
    CuPy's generators keep their state on the GPU with no way to read it, so on "cuda" the
    state is a seed and a count of draws: each draw (one call of random, standard_normal or
    integers) gets a stream of its own, cuRAND's Philox seeded by (seed, draws so far), and
    set_state({"seed": s, "draws": n}) makes the next draw the one that came after the n-th.
    (cuRAND keeps 32 bits of a seed, so two draws in some 10^5 may share a stream.)
    """

    def __init__(self, device="cpu"):
        self.device = normalize_device(device)
        self.seed()

    def manual_seed(self, seed):
        """Restart from `seed` (an int); returns the generator, so `Generator().manual_seed(42)` is one."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise RuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        if not -(2**63) <= int(seed) < SEED_SPACE:
            raise ValueError(f"manual_seed: {seed} does not fit in 64 bits")
        self._seed = int(seed) % SEED_SPACE
        self._draws = 0
        self._numpy = np.random.Generator(mersenne_twister(self._seed)) if self.device == "cpu" else None
        return self

    def seed(self):
        """Restart from a fresh seed taken from the operating system; returns that seed."""
        self.manual_seed(secrets.randbits(63))
        return self._seed

    def initial_seed(self):
        """The seed this generator last started from."""
        return self._seed

    def get_state(self):
        """A plain dict (JSON-friendly): the Mersenne Twister's words and position on "cpu", {"seed", "draws"}
        on "cuda". (PyTorch returns a byte tensor; a dict can go into a checkpoint as it is.)"""
        if self.device == "cpu":
            state = self._numpy.bit_generator.state["state"]
            return {"bit_generator": "MT19937", "state": {"key": state["key"].tolist(), "pos": int(state["pos"])}}
        return {"seed": self._seed, "draws": self._draws}

    def set_state(self, state):
        """Continue from a state that get_state returned; returns the generator, as PyTorch's does."""
        if self.device == "cpu":
            if not isinstance(state, dict) or state.get("bit_generator") != "MT19937":
                kind = state.get("bit_generator") if isinstance(state, dict) else type(state).__name__
                raise ValueError(
                    f"a cpu generator state is the Mersenne Twister's (bit_generator 'MT19937', from get_state), "
                    f"got {kind!r} (a state saved before the CPU generator followed PyTorch's stream)"
                )
            self._numpy.bit_generator.state = state
            return self
        if not isinstance(state, dict) or set(state) != {"seed", "draws"}:
            raise ValueError(f"a cuda generator state is a dict of 'seed' and 'draws', got {state!r}")
        self._seed, self._draws = int(state["seed"]), int(state["draws"])
        return self

    def __repr__(self):
        return f"<tensor.Generator device='{self.device}' initial_seed={self._seed}>"

    # ----- the draws (what NumPy's and CuPy's generators both offer) ---------------------------------

    def _next_stream(self):
        if self.device == "cpu":
            return self._numpy
        # backend.random_generator: replaceable; in fast mode refused while a CUDA graph is captured (fast/cuda_graphs.py)
        stream = backend.random_generator(array_module("cuda"), np.random.SeedSequence([self._seed, self._draws]))
        self._draws += 1
        return stream

    def random(self, size, dtype=np.float64):
        """Uniform draws from [0, 1), made in `dtype` when it is float32 rather than converted."""
        dtype = np.dtype(dtype)
        draw_dtype = np.float32 if dtype == np.float32 else np.float64
        return self._next_stream().random(size, dtype=draw_dtype).astype(dtype, copy=False)

    def standard_normal(self, size, dtype=np.float64):
        dtype = np.dtype(dtype)
        draw_dtype = np.float32 if dtype == np.float32 else np.float64
        return self._next_stream().standard_normal(size, dtype=draw_dtype).astype(dtype, copy=False)

    def integers(self, low, high, size):
        return self._next_stream().integers(low, high, size=size)

    def permutation(self, n):
        """0..n-1 in a random order, an int64 array. On "cpu" PyTorch's: the Fisher-Yates shuffle, position i
        swapped with position i + (w mod (n - i)) for the next 32-bit word w of the stream. On "cuda" the
        order that sorts n uniform draws (CuPy's generator has no shuffle; PyTorch's CUDA order differs too)."""
        if self.device != "cpu":
            return self.random(n).argsort()
        order = list(range(n))
        words = self._numpy.bit_generator.random_raw(max(n - 1, 0)).tolist()
        for i, word in enumerate(words):
            j = i + word % (n - i)
            order[i], order[j] = order[j], order[i]
        return np.array(order, dtype=np.int64)


_generators = {device: Generator(device) for device in DEVICES}
default_generator = _generators["cpu"]  # torch.default_generator: the CPU's


def generator(device="cpu"):
    """The default Generator of a device (what a random function uses when given no generator=)."""
    return _generators[normalize_device(device)]


def pick_generator(device, chosen=None):
    """The generator a draw on `device` uses: `chosen` (checked: a Generator of that device) or the default."""
    if chosen is None:
        return generator(device)
    if not isinstance(chosen, Generator):
        raise TypeError(f"generator= must be a tensor.Generator, got {type(chosen).__name__}")
    if chosen.device != normalize_device(device):
        raise RuntimeError(
            f"Expected a '{normalize_device(device)}' device type for generator but found '{chosen.device}'"
        )
    return chosen


def manual_seed(seed):
    """Reseed the default generator of every device; returns the CPU's, as PyTorch does."""
    for device_generator in _generators.values():
        device_generator.manual_seed(seed)
    return default_generator


def seed():
    """Reseed every default generator from the operating system's entropy; returns the new seed."""
    new_seed = default_generator.seed()
    manual_seed(new_seed)
    return new_seed


def initial_seed():
    """The seed the CPU's default generator last started from."""
    return default_generator.initial_seed()


def get_rng_state(device="cpu"):
    """A device generator's state as a plain dict (JSON-friendly), for checkpoints ("cpu" by default)."""
    return generator(device).get_state()


def set_rng_state(state, device="cpu"):
    generator(device).set_state(state)
