"""What the fused ops keep for backward, the devices of their masks, and their reads from the device.

- Every array backward needs goes through save_for_backward, and nothing else big stays on the
  Function: after backward the engine has freed them all (no dropout mask outlives it).
- A mask is a parameter, not an input, so the engine's device check never sees it: the op checks it.
- On "cuda", reading a value back to the host stalls the GPU. The step's ops make no such read
  (no bool/int/float/item, no boolean-mask indexing), which a NumPy subclass that counts them checks.
"""

import gc
import weakref

import numpy as np
import pytest

import nn
import nn.functional as F
import tensor
from nn.fast import blocked, rows
from tensor import Tensor


def arrays_held(fn, skip=("saved",)):
    """Every NumPy array reachable from the Function's attributes (inside tuples, lists, dicts too)."""
    found, stack = [], [value for name, value in vars(fn).items() if name not in skip]
    while stack:
        value = stack.pop()
        if isinstance(value, np.ndarray):
            found.append(value)
        elif isinstance(value, (tuple, list)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return found


def x(*shape):
    return tensor.randn(*shape, requires_grad=True)


OPS = {
    "dropout": lambda: F.dropout(x(4, 5), 0.5),
    "attention with dropout and a mask": lambda: F.scaled_dot_product_attention(
        x(2, 3, 4), x(2, 3, 4), x(2, 3, 4), attn_mask=nn.causal_mask(3), dropout_p=0.3
    ),
    "causal attention": lambda: F.scaled_dot_product_attention(x(2, 3, 4), x(2, 3, 4), x(2, 3, 4), is_causal=True),
    "embedding": lambda: F.embedding(tensor.tensor([[0, 2], [1, 2]]), x(3, 4)),
    "cross_entropy": lambda: F.cross_entropy(x(4, 3), tensor.tensor([0, 2, -100, 1]), label_smoothing=0.1),
    "layer_norm": lambda: F.layer_norm(x(2, 3, 4), (4,), x(4), x(4)),
    "softmax": lambda: F.softmax(x(3, 4), -1),
    "log_softmax": lambda: F.log_softmax(x(3, 4), 0),
    "gelu": lambda: F.gelu(x(3, 4)),
    "linear": lambda: F.linear(x(3, 4), x(2, 4), x(2)),
}


@pytest.mark.parametrize("make", OPS.values(), ids=OPS.keys())
def test_a_function_keeps_arrays_only_through_save_for_backward(make):
    out = make()
    fn = out.grad_fn
    assert arrays_held(fn) == [], f"{type(fn).__name__} keeps arrays outside save_for_backward"
    out.backward(tensor.ones_like(out))
    assert arrays_held(fn, skip=()) == [], f"{type(fn).__name__} still holds arrays after backward"


@pytest.mark.parametrize("dropout_p", [0.5])
def test_dropout_masks_are_freed_after_backward(dropout_p):
    a = x(2, 3, 4)
    for out in (F.dropout(a, dropout_p), F.scaled_dot_product_attention(a, a, a, dropout_p=dropout_p)):
        refs = [weakref.ref(saved) for saved in out.grad_fn.saved]
        out.sum().backward()
        gc.collect()
        assert [ref() for ref in refs if ref() is not None and ref() is not a._array] == []


class SpyGenerator:
    """A generator that records the dtype of every draw."""

    def __init__(self):
        self.rng, self.dtypes = np.random.default_rng(0), []

    def random(self, size, dtype=np.float64):
        self.dtypes.append(np.dtype(dtype))
        return self.rng.random(size, dtype=dtype)


def test_dropout_draws_its_uniforms_in_the_input_dtype(monkeypatch):
    spy = SpyGenerator()
    monkeypatch.setattr(tensor, "generator", lambda device="cpu": spy)
    a = tensor.randn(2, 3, 4)  # float32
    F.dropout(a, 0.5)
    F.scaled_dot_product_attention(a, a, a, dropout_p=0.5)
    assert spy.dtypes == [np.dtype(np.float32)] * 2


# ----- devices --------------------------------------------------------------------------------------


class PretendCudaTensor(Tensor):
    """A CPU tensor that reports device "cuda": enough to check the device comparison without a GPU."""

    device = "cuda"
    _xp = property(lambda self: np)  # its arrays stay NumPy's


def test_a_mask_on_another_device_is_a_clear_error():
    q = tensor.randn(2, 3, 4)
    mask = PretendCudaTensor._wrap(nn.causal_mask(3)._array)
    with pytest.raises(
        RuntimeError, match=r"all inputs must be on one device.*query cpu \(2, 3, 4\).*attn_mask cuda \(3, 3\)"
    ):
        F.scaled_dot_product_attention(q, q, q, attn_mask=mask)
    attention = nn.MultiHeadAttention(4, 2)
    with pytest.raises(RuntimeError, match="all inputs must be on one device"):
        attention(tensor.randn(1, 3, 4), attn_mask=mask)


def test_masks_on_the_operands_device_pass():
    q = tensor.randn(2, 3, 4)
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=nn.causal_mask(3))
    np.testing.assert_allclose(out.numpy(), F.scaled_dot_product_attention(q, q, q, is_causal=True).numpy())


# ----- reads from the device ---------------------------------------------------------------------


class CountingArray(np.ndarray):
    """A NumPy array that counts the operations which, on CuPy, read from the device to the host."""

    reads = 0

    def _read(self):
        type(self).reads += 1

    def __bool__(self):
        self._read()
        return super().__bool__()

    def __int__(self):
        self._read()
        return super().__int__()

    def __float__(self):
        self._read()
        return super().__float__()

    def item(self, *args):
        self._read()
        return super().item(*args)

    def tolist(self):
        self._read()
        return super().tolist()

    def __getitem__(self, key):
        if isinstance(key, np.ndarray) and key.dtype == bool:
            self._read()  # CuPy reads the mask's count back to size the result
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        if isinstance(key, np.ndarray) and key.dtype == bool:
            self._read()
        super().__setitem__(key, value)


class CountingNumpy:
    """numpy, whose functions return CountingArrays: an `xp` for the fused ops and fast paths."""

    def __getattr__(self, name):
        attr = getattr(np, name)
        if not callable(attr) or isinstance(attr, type):
            return attr

        def counting(*args, **kwargs):
            out = attr(*args, **kwargs)
            return out.view(CountingArray) if isinstance(out, np.ndarray) else out

        return counting


@pytest.fixture
def reads():
    CountingArray.reads = 0
    return lambda: CountingArray.reads


def counting(a):
    return np.asarray(a).view(CountingArray)


def test_attention_reads_nothing_back_even_with_fully_masked_rows(reads):
    rng = np.random.default_rng(0)
    q, k, v = (counting(rng.standard_normal((2, 3, 4))) for _ in range(3))
    bias = counting(np.where(np.tri(3, dtype=bool), 0.0, -np.inf))
    bias[0, :] = -np.inf  # a fully masked row, the case that once needed a boolean-mask assignment
    weights, out = rows.attention(CountingNumpy(), q, k, v, bias, 0.5, None)
    rows.attention_backward(CountingNumpy(), q, k, v, weights, None, counting(np.ones(out.shape)), 0.5)
    assert reads() == 0 and not np.asarray(weights)[:, 0].any()
    textbook = F.ScaledDotProductAttention(CountingNumpy(), ())
    out = textbook.forward(q, k, v, bias, scale=0.5, dropout_p=0.0, generator=None)
    textbook.backward(counting(np.ones(out.shape)))
    assert reads() == 0 and not np.asarray(out)[:, 0].any()


@pytest.mark.parametrize("cross_entropy", [F.CrossEntropy, blocked.CrossEntropy], ids=["textbook", "row blocks"])
def test_cross_entropy_reads_nothing_back_and_marks_a_bad_target_with_nan(reads, cross_entropy):
    logits = counting(np.random.default_rng(0).standard_normal((4, 3)))
    fn = cross_entropy(CountingNumpy(), ())
    loss = fn.forward(logits, counting([0, 2, -100, 1]), ignore_index=-100, reduction="mean", label_smoothing=0.1)
    fn.backward(counting(np.ones(())))
    assert reads() == 0 and np.isfinite(float(np.asarray(loss)))
    bad = fn.forward(logits, counting([0, 7, -100, 1]), ignore_index=-100, reduction="none", label_smoothing=0.0)
    assert reads() == 0
    assert np.isnan(np.asarray(bad)[1]) and np.isfinite(np.asarray(bad)[[0, 2, 3]]).all()


def test_a_bad_target_is_still_an_index_error_on_the_cpu():
    with pytest.raises(IndexError, match=r"target 7 is out of range for 3 classes"):
        F.cross_entropy(tensor.randn(2, 3), tensor.tensor([0, 7]))


def test_the_embedding_index_check_reads_one_value_and_names_the_range(reads):
    F._check_indices("embedding: index", counting([[0, 4], [3, 1]]), 5, "embeddings")
    assert reads() == 1
    with pytest.raises(IndexError, match=r"index 5 is out of range for 5 embeddings \(valid: 0 to 4\)"):
        F.embedding(tensor.tensor([[0, 5]]), tensor.randn(5, 2))
    with pytest.raises(IndexError, match=r"index -1 is out of range for 5 embeddings"):
        F.embedding(tensor.tensor([-1, 2]), tensor.randn(5, 2))


def pretend_cuda(a, requires_grad=False):
    return PretendCudaTensor._wrap(counting(a), requires_grad=requires_grad)


def test_on_cuda_cross_entropy_and_embedding_read_at_most_one_value_back(reads):
    rng = np.random.default_rng(0)
    logits = pretend_cuda(rng.standard_normal((4, 3)), requires_grad=True)
    F.cross_entropy(logits, pretend_cuda(np.array([0, 2, -100, 1])))
    assert reads() == 0  # the CPU's range check is not made on the device: a bad target gives NaN
    F.embedding(pretend_cuda(np.array([[0, 4], [3, 1]])), pretend_cuda(rng.standard_normal((5, 2))))
    assert reads() == 1  # one bool: is any index out of range
