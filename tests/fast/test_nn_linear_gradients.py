"""The device "batched Linear gradients" (nn/fast/linear.py): Linears that read one input hand their gradients
on as products not yet run (LinearGradients), which the engine runs together when the input's gradient is
needed. The gradients must be what the textbook Linear's own backward gives: dx = sum_i g_i W_i (+ x's other
gradients), dW_i = g_i^T x, db_i = sum of g_i; on the CPU and on the CuPy stand-in.

Each test runs in fast mode with this device on, whatever TINYGRAD_GPT_KERNELS says; the equality test runs
the textbook (reference mode) beside it.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn.functional as F
import tensor
from nn.fast.linear import LinearGradients
from tests.fast.nn_helpers import ON_BOTH, device_of_test, kernels_mode

DEVICE = "batched Linear gradients"


@pytest.fixture(autouse=True, scope="module")
def _this_device_on():
    with kernels_mode("fast", only=[DEVICE]):
        yield


@st.composite
def shared_input_case(draw):
    """A made input x of shape (*lead, in), the Linears that read it, and the upstream gradients."""
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4))
    n_in, n = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    linears = []
    for i in range(n):
        n_out = draw(st.integers(1, 5))
        linear = {
            "weight": rng.standard_normal((n_out, n_in)),
            "bias": rng.standard_normal(n_out) if draw(st.booleans()) else None,
            "weight_grad": draw(st.booleans()),  # False: a frozen weight, which receives nothing
            "weight_made": draw(st.booleans()),  # the weight is made by an op (w * 1): its dW is not deferred
            "tied": i > 0 and draw(st.booleans()),  # reuse Linear 0's weight tensor (weight tying) where it fits
        }
        linear["upstream"] = rng.standard_normal(lead + (n_out,))
        linears.append(linear)
    other = rng.standard_normal(lead + (n_in,)) if draw(st.booleans()) else None  # x's gradient from another op
    return rng.standard_normal(lead + (n_in,)), linears, other


def shared_input_gradients(case, device):
    """The gradients of x's leaf, of every weight and bias, and the loss, for Linears that read one made x."""
    x_values, linears, other = case
    leaf = tensor.tensor(x_values, dtype=tensor.float64, requires_grad=True, device=device)
    x = leaf * 2.0  # made by an op, so its Linears hand on LinearGradients
    weights = []
    for linear in linears:
        tied = linear["tied"] and linear["weight"].shape == linears[0]["weight"].shape
        weight = (
            weights[0] if tied else tensor.tensor(linear["weight"], requires_grad=linear["weight_grad"], device=device)
        )
        weights.append(weight)
    biases = [
        None if linear["bias"] is None else tensor.tensor(linear["bias"], requires_grad=True, device=device)
        for linear in linears
    ]
    loss = 0.0
    for linear, weight, bias in zip(linears, weights, biases):
        used_weight = weight * 1.0 if linear["weight_made"] and weight.requires_grad else weight
        loss = loss + (F.linear(x, used_weight, bias) * tensor.tensor(linear["upstream"], device=device)).sum()
    if other is not None:
        loss = loss + (x * tensor.tensor(other, device=device)).sum()
    loss.backward()
    tensors = [leaf, *{id(w): w for w in weights}.values(), *[b for b in biases if b is not None]]
    assert all(t._ctx is None for t in tensors)  # leaves, which receive .grad
    return [None if t.grad is None else t.grad.cpu().numpy() for t in tensors]


@ON_BOTH
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=shared_input_case())
def test_linears_of_one_input_get_the_textbooks_gradients(where, request, case):
    device = device_of_test(where, request)
    with kernels_mode("reference"):
        textbook = shared_input_gradients(case, device)
    fast = shared_input_gradients(case, device)
    for expected, got in zip(textbook, fast):
        if expected is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@given(case=shared_input_case())
def test_linears_of_one_input_get_each_linears_own_gradients(case):
    x_values, linears, other = case
    leaf = tensor.tensor(x_values, dtype=tensor.float64, requires_grad=True)
    x = leaf * 2.0  # made by an op, so its Linears hand on LinearGradients
    weights = []
    for linear in linears:
        tied = linear["tied"] and linear["weight"].shape == linears[0]["weight"].shape
        weight = weights[0] if tied else tensor.tensor(linear["weight"], requires_grad=linear["weight_grad"])
        linear["weight"], linear["tied"] = weight.detach().numpy(), tied
        weights.append(weight)
    loss = 0.0
    for linear, weight in zip(linears, weights):
        bias = None if linear["bias"] is None else tensor.tensor(linear["bias"], requires_grad=True)
        linear["bias_tensor"] = bias
        used_weight = weight * 1.0 if linear["weight_made"] and weight.requires_grad else weight
        loss = loss + (F.linear(x, used_weight, bias) * tensor.tensor(linear["upstream"])).sum()
    if other is not None:
        loss = loss + (x * tensor.tensor(other)).sum()
    loss.backward()

    x_rows = 2.0 * x_values.reshape(-1, x_values.shape[-1])
    dx = sum(linear["upstream"] @ linear["weight"] for linear in linears) + (0 if other is None else other)
    np.testing.assert_allclose(leaf.grad.numpy(), 2.0 * dx, rtol=1e-10, atol=1e-10)
    expected_weight_grads = {}
    for linear, weight in zip(linears, weights):
        g_rows = linear["upstream"].reshape(-1, linear["upstream"].shape[-1])
        expected_weight_grads[id(weight)] = expected_weight_grads.get(id(weight), 0) + g_rows.T @ x_rows
        if linear["bias_tensor"] is not None:
            np.testing.assert_allclose(linear["bias_tensor"].grad.numpy(), g_rows.sum(axis=0), rtol=1e-10, atol=1e-10)
    for weight in {id(w): w for w in weights}.values():
        if weight.requires_grad:
            np.testing.assert_allclose(weight.grad.numpy(), expected_weight_grads[id(weight)], rtol=1e-10, atol=1e-10)
        else:
            assert weight.grad is None


def test_the_linears_of_one_input_run_their_gradient_products_together(monkeypatch):
    """Three Linears on one LayerNorm output (a head's key, query and value): one compute() with three terms."""
    computed = []
    original = LinearGradients.compute

    def recording_compute(self):
        computed.append(len(self.terms))
        return original(self)

    monkeypatch.setattr(LinearGradients, "compute", recording_compute)
    tensor.manual_seed(0)
    x = F.layer_norm(tensor.randn(2, 5, 8, requires_grad=True), (8,))
    weights = [tensor.randn(4, 8, requires_grad=True) for _ in range(3)]
    sum(F.linear(x, w).sum() for w in weights).backward()
    assert computed == [3]
    assert all(w.grad is not None and w.grad.shape == w.shape for w in weights)


def test_a_linear_on_a_leaf_input_computes_its_gradients_at_once(monkeypatch):
    """Nothing to wait for when x is a leaf: no LinearGradients, and the gradients are there after backward."""
    monkeypatch.setattr(LinearGradients, "compute", lambda self: (_ for _ in ()).throw(AssertionError("deferred")))
    x = tensor.randn(3, 4, requires_grad=True)
    w = tensor.randn(2, 4, requires_grad=True)
    F.linear(x, w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((3, 2)) @ w.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), np.ones((2, 3)) @ x.detach().numpy(), rtol=1e-6)


def test_the_profiler_counts_the_shared_products_as_backward_time():
    original = LinearGradients.compute
    x = F.layer_norm(tensor.randn(2, 5, 8, requires_grad=True), (8,))
    with tensor.profile() as profiler:
        sum(F.linear(x, tensor.randn(4, 8, requires_grad=True)).sum() for _ in range(3)).backward()
    assert LinearGradients.compute is original  # the timer is gone with the profile
    calls, forward, backward = profiler.records["LinearGradients"]
    assert calls == 0 and forward == 0 and backward > 0


def test_a_linears_input_that_another_op_also_reads_gets_both_gradients_in_either_order(device):
    """x feeds a Linear and a residual sum: the sum's gradient reaches x before or after the Linear's."""
    w_values = np.arange(12.0).reshape(3, 4) / 10
    for linear_first in (True, False):
        leaf = tensor.ones(2, 4, requires_grad=True, device=device)
        x = leaf * 2.0
        w = tensor.tensor(w_values, dtype=tensor.float32, requires_grad=True, device=device)
        y = F.linear(x, w).sum() if linear_first else (x * 3.0).sum()
        y = y + ((x * 3.0).sum() if linear_first else F.linear(x, w).sum())
        y.backward()
        expected = 2.0 * (np.ones((2, 3)) @ w_values + 3.0)
        np.testing.assert_allclose(leaf.grad.cpu().numpy(), expected, rtol=1e-6)
        np.testing.assert_allclose(w.grad.cpu().numpy(), np.full((3, 4), 2.0 * 2), rtol=1e-6)
