"""What the engine checks and keeps: what backward returns, grad mode per thread, arrays
(never NumPy scalars) as data, contiguous and view, the profiler outside the main path,
errors that keep their cause, and the state a Function holds after backward."""

import threading

import numpy as np
import pytest

import tensor
from tensor import Function, ops
from tensor.autograd import MadeInput, topological_order


def leaf(values, device, dtype=tensor.float64):
    return tensor.tensor(values, dtype=dtype, device=device, requires_grad=True)


# ----- what backward returns, checked (planted bugs) -------------------------------------------------


class TransposedGradient(Function):
    """A buggy op: its backward returns the gradient transposed."""

    def forward(self, x):
        return x * 2

    def backward(self, grad):
        return grad.T * 2


class ForgetsSecondGradient(Function):
    """A buggy op: two inputs, one gradient."""

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad


class ExtraGradient(Function):
    """A buggy op: one input, two gradients."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad, grad


class GradientInFloat32(Function):
    """A buggy op: the gradient loses the input's dtype."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad.astype(np.float32)


class SumsTheWrongAxis(Function):
    """A buggy op: x (2, 3) -> sum over rows (3,); backward hands back a (2,) gradient."""

    def forward(self, x):
        return x.sum(axis=0)

    def backward(self, grad):
        return np.ones(2) * grad.sum()


def test_a_gradient_of_the_wrong_shape_names_the_op_the_input_and_both_shapes():
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "cpu")
    with pytest.raises(RuntimeError, match=r"TransposedGradient.*shape \(3, 2\).*input 0.*shape \(2, 3\)"):
        TransposedGradient.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"SumsTheWrongAxis.*shape \(2,\).*input 0.*shape \(2, 3\)"):
        SumsTheWrongAxis.apply(x).sum().backward()
    assert x.grad is None


def test_a_backward_that_returns_too_few_gradients_is_an_error():
    x, y = leaf([1.0], "cpu"), leaf([2.0], "cpu")
    with pytest.raises(RuntimeError, match=r"ForgetsSecondGradient.backward returned 1 gradient\(s\) for 2 input"):
        ForgetsSecondGradient.apply(x, y).sum().backward()
    assert y.grad is None


def test_a_backward_that_returns_too_many_gradients_is_an_error():
    with pytest.raises(RuntimeError, match=r"ExtraGradient.backward returned 2 gradient\(s\) for 1 input"):
        ExtraGradient.apply(leaf([1.0], "cpu")).sum().backward()


def test_a_gradient_of_the_wrong_dtype_names_both_dtypes():
    with pytest.raises(RuntimeError, match=r"GradientInFloat32.*dtype float32 for input 0.*dtype float64"):
        GradientInFloat32.apply(leaf([1.0], "cpu")).sum().backward()


def test_expand_backward_itself_sums_over_the_copies(device):
    x = leaf([[1.0], [2.0]], device)  # (2, 1)
    y = x.expand(3, 2, 4)
    grad_x = y.grad_fn.backward(y._array * 0 + 1)
    assert grad_x.shape == (2, 1) and grad_x.tolist() == [[12.0], [12.0]]


# ----- grad mode, per thread ----------------------------------------------------------------------


def test_no_grad_in_one_thread_does_not_turn_off_recording_in_another():
    x = leaf([1.0], "cpu")
    inside, done = threading.Event(), threading.Event()
    results = {}

    def in_no_grad():
        with tensor.no_grad():
            inside.set()
            done.wait(5)
            results["no_grad thread"] = (x * 2).requires_grad

    def recording():
        inside.wait(5)
        results["other thread"] = (x * 2).requires_grad, tensor.is_grad_enabled()
        done.set()

    threads = [threading.Thread(target=in_no_grad), threading.Thread(target=recording)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"no_grad thread": False, "other thread": (True, True)}


def test_a_new_thread_starts_with_grad_enabled_whatever_its_parent_set():
    seen = []
    with tensor.no_grad():
        thread = threading.Thread(target=lambda: seen.append(tensor.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


def test_set_grad_enabled_as_a_call_a_context_manager_and_a_decorator():
    x = leaf([1.0], "cpu")
    try:
        tensor.set_grad_enabled(False)  # a plain call sets the mode at once
        assert not tensor.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        tensor.set_grad_enabled(True)
    assert tensor.is_grad_enabled()
    with tensor.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with tensor.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not tensor.is_grad_enabled()
    assert tensor.is_grad_enabled()

    @tensor.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert tensor.is_grad_enabled()  # decorating changes nothing outside the function
    assert not double(x).requires_grad and tensor.is_grad_enabled()


def test_enable_grad_inside_no_grad(device):
    x = leaf([1.0], device)
    with tensor.no_grad(), tensor.enable_grad():
        assert (x * 2).requires_grad
    assert tensor.is_grad_enabled()


# ----- a tensor's data is an array of its device --------------------------------------------------


def test_full_reductions_and_comparisons_give_arrays_not_numpy_scalars(device):
    x = tensor.tensor([1.0, 3.0, 2.0], device=device)
    zero_d = tensor.tensor(2.0, device=device)
    for t in (x.argmax(), x.argmin(), (x > 0).any(), (x > 0).all(), zero_d > 1, zero_d % 1, x.sum()):
        assert t.device == device and t.ndim == 0
        assert type(t._array) is type(x._array)
        assert t._xp is x._xp
    assert (x.argmax() + 1).item() == 2


def test_a_zero_d_gradient_accumulated_twice_is_an_array(device):
    x = leaf(2.0, device)
    (x * 3).backward()
    (x * 4).backward()
    assert type(x.grad._array) is type(x._array) and x.grad.device == device and x.grad.item() == 7.0


def test_backward_with_a_gradient_on_another_device_is_a_clear_error(device):
    if device == "cpu":
        pytest.skip("needs a second device")
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match=f"gradient is on cpu but the tensor is on {device}"):
        (x * 2).backward(tensor.ones(2, dtype=tensor.float64))


# ----- contiguous and view --------------------------------------------------------------------------


def test_contiguous_copies_a_transposed_or_broadcast_tensor_and_keeps_the_gradient(device):
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device)
    for t in (x.T, x[:, :1].expand(2, 3)):
        c = t.contiguous()
        assert c is not t and c._array.flags.c_contiguous and c.tolist() == t.tolist()
    upstream = tensor.tensor([[1.0, 10.0], [100.0, 1000.0], [0.5, 0.25]], dtype=tensor.float64, device=device)
    x.T.contiguous().backward(upstream)
    assert x.grad.tolist() == upstream.T.tolist()


def test_contiguous_returns_self_when_already_contiguous(device):
    x = tensor.zeros(2, 3, device=device)
    row = x[1]
    assert x.contiguous() is x and row.contiguous() is row


@pytest.mark.parametrize(
    ("shape", "dims", "new_shape"),
    [((2, 3), (1, 0), (3, 2)), ((2, 3), (1, 0), (3, 1, 2)), ((4, 6), (1, 0), (6, 2, 2)), ((4, 6), (1, 0), (3, 2, 4))],
)
def test_view_of_a_permuted_tensor_works_where_pytorchs_does(shape, dims, new_shape, device):
    x = tensor.arange(int(np.prod(shape)), device=device).reshape(shape).permute(dims)
    v = x.view(new_shape)
    assert v.shape == new_shape and v.reshape(-1).tolist() == x.reshape(-1).tolist()
    v.zero_()  # a view: the write shows in x
    assert x.sum().item() == 0


@pytest.mark.parametrize(
    ("shape", "dims", "new_shape"),
    [((2, 3), (1, 0), (6,)), ((2, 3, 4), (0, 2, 1), (2, 12)), ((2, 3, 4), (1, 0, 2), (6, 4))],
)
def test_view_refuses_layouts_pytorchs_view_refuses_and_reshape_copies(shape, dims, new_shape, device):
    x = tensor.arange(int(np.prod(shape)), device=device).reshape(shape).permute(dims)
    with pytest.raises(RuntimeError, match=r"use \.reshape\(\.\.\.\) instead"):
        x.view(new_shape)
    assert x.reshape(new_shape).tolist() == x.contiguous().view(new_shape).tolist()


def test_view_of_an_expanded_tensor_is_refused(device):
    x = tensor.zeros(3, 1, device=device).expand(3, 4)
    with pytest.raises(RuntimeError, match="reshape"):
        x.view(12)


# ----- the profiler wraps the engine from outside ---------------------------------------------------


def test_profile_installs_its_timers_and_removes_them_and_nests(device):
    original_forward, original_backward = ops.Exp.forward, ops.Mul.backward
    x = leaf([1.0, 2.0], device)
    with tensor.profile() as outer:
        x.exp().sum().backward()
        with tensor.profile() as inner:
            (x * x).sum().backward()
        x.exp().sum()
        assert ops.Exp.forward is not original_forward  # the outer profile still records
    assert ops.Exp.forward is original_forward and ops.Mul.backward is original_backward
    assert outer.records["Exp"][0] == 2 and outer.records["Mul"][0] == 1 and outer.records["Mul"][2] > 0
    assert set(inner.records) == {"Mul", "Sum"} and inner.records["Mul"][0] == 1


def test_profile_waits_for_the_gpu_before_reading_the_clock():
    class FakeStream:
        waits = 0

        def synchronize(self):
            FakeStream.waits += 1

    class FakeCupy:
        class cuda:
            @staticmethod
            def get_current_stream():
                return FakeStream()

    with tensor.profile() as profiler:
        ops.Neg(FakeCupy, ()).forward(np.ones(2))
    assert FakeStream.waits == 2 and profiler.records["Neg"][0] == 1


# ----- errors keep their cause, and % // refuse to drop a gradient --------------------------------------


def test_an_ops_failure_is_chained_to_the_original_error(device):
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(4,\)") as caught:
        tensor.zeros(2, 3, device=device) + tensor.zeros(4, device=device)
    assert isinstance(caught.value.__cause__, ValueError)


def test_remainder_has_pytorch_s_gradient_and_floor_division_refuses_backward(device):
    """As PyTorch: d(x % y)/dx = 1, d(x % y)/dy = -floor(x / y); x // y is in the graph, without a derivative."""
    x, y = leaf([5.0, -7.0], device), leaf([2.0, 3.0], device)
    (x % y).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [-2.0, 3.0]
    quotient = x // 2
    assert quotient.requires_grad and quotient.tolist() == [2.0, -4.0]
    with pytest.raises(RuntimeError, match="floor division"):
        quotient.sum().backward()
    with tensor.no_grad():
        assert (x % 2).tolist() == [1.0, 1.0]


# ----- what a Function keeps after backward ------------------------------------------------------------


def _holds_an_array(value):
    if isinstance(value, (tuple, list)):
        return any(_holds_an_array(item) for item in value)
    return hasattr(value, "ndim") and hasattr(value, "dtype")


def test_functions_hold_no_array_after_backward(device):
    x = leaf([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], device)
    mask = tensor.tensor([[True, False, True], [False, False, True]], device=device)
    y = x.masked_fill(mask, 0.0)[tensor.tensor([1, 0, 1], device=device)]
    z = (y.exp() * y.tanh() / (y.sigmoid() + 1)).amax(0) @ x.T
    loss = (z.relu() ** 2).sum() + x.abs().max()
    functions = topological_order(loss)
    ops_run = {cls.__name__ for fn in functions for cls in type(fn).__mro__}  # an engine-room stand-in: its op too
    assert {"Where", "Index", "Exp", "Matmul", "Max"} <= ops_run
    loss.backward()
    for fn in functions:
        kept = {
            name: value for name, value in vars(fn).items() if name not in ("xp", "parents") and _holds_an_array(value)
        }
        assert kept == {}, f"{type(fn).__name__} keeps {sorted(kept)} after backward"
        # an op that saved nothing keeps its inputs for a second backward (PyTorch's rule): leaves, and MadeInputs
        assert all(p.is_leaf if isinstance(p, tensor.Tensor) else isinstance(p, MadeInput) for p in fn.parents)
    assert any(fn.parents for fn in functions) and any(fn.released for fn in functions)
