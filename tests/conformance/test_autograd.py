"""Autograd semantics against PyTorch: no_grad, detach, retain_graph, accumulation, leaves, backward's errors."""

import numpy as np
import pytest

from tests.conformance.oracle import OURS, TORCH, check, check_raises

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def both(fn):
    return fn(TORCH), fn(OURS)


def test_no_grad_context_gives_outputs_that_do_not_require_grad():
    def run(ns):
        x = ns.torch.tensor(X, requires_grad=True)
        with ns.torch.no_grad():
            y = x * 2
        return y.requires_grad, y.grad_fn is None, (x * 2).requires_grad

    expected, actual = both(run)
    assert actual == expected


def test_no_grad_decorator_gives_outputs_that_do_not_require_grad():
    def run(ns):
        @ns.torch.no_grad()
        def evaluate(x):
            return (x * x).sum()

        x = ns.torch.tensor(X, requires_grad=True)
        return evaluate(x).requires_grad, (x * x).sum().requires_grad

    expected, actual = both(run)
    assert actual == expected


def test_enable_grad_inside_no_grad_records_again():
    def run(ns):
        x = ns.torch.tensor(X, requires_grad=True)
        with ns.torch.no_grad():
            with ns.torch.enable_grad():
                y = x * 2
            z = x * 2
        return y.requires_grad, z.requires_grad, ns.torch.is_grad_enabled()

    expected, actual = both(run)
    assert actual == expected


def test_detach_cuts_the_graph_and_shares_the_data():
    check(lambda ns, x: (x.detach() * x).sum(), X)

    def shares(ns):
        x = ns.torch.tensor(X)
        d = x.detach()
        d[0, 0] = 100.0
        return float(x[0, 0]), d.requires_grad

    expected, actual = both(shares)
    assert actual == expected


def test_gradients_accumulate_over_two_backward_calls():
    def run(ns):
        x = ns.torch.tensor(X, requires_grad=True)
        (x * x).sum().backward()
        (x * 3).sum().backward()
        return x.grad.numpy()

    expected, actual = both(run)
    np.testing.assert_allclose(actual, expected)


SECOND_BACKWARDS = {  # (the loss of x, retain_graph in the first backward)
    "retain_graph keeps what the ops saved": (lambda ns, x: (x.exp() * x).sum(), True),
    # PyTorch frees saved values, not the graph: a sum, a mean, a reshape, an addition run backward again
    "ops that saved nothing run again": (
        lambda ns, x: (x.reshape(-1) + 1.0).sum() + x.mean(0).sum() - ns.torch.cat([x, x[:, :1]], 1).sum(),
        False,
    ),
}


@pytest.mark.parametrize("case", SECOND_BACKWARDS)
def test_a_second_backward_adds_the_gradients_again_as_pytorch(case):
    loss_of, retain = SECOND_BACKWARDS[case]

    def run(ns):
        x = ns.torch.tensor(X, requires_grad=True)
        y = loss_of(ns, x)
        y.backward(retain_graph=retain)
        y.backward()
        return x.grad.numpy()

    expected, actual = both(run)
    np.testing.assert_allclose(actual, expected)


def test_second_backward_through_a_freed_graph_raises_as_pytorch():
    def run(ns, x):
        y = (x.exp() * x).sum()
        y.backward()
        y.backward()

    check_raises(run, X)


def test_second_backward_through_a_write_into_a_slice_raises_as_pytorch():
    """PyTorch's CopySlices runs backward once, though it saves nothing."""

    def run(ns, x):
        z = x + 0
        z[0] = 5.0
        s = z.sum()
        s.backward()
        s.backward()

    torch_error, our_error = check_raises(run, X)
    assert "second time" in str(torch_error) and "second time" in str(our_error)


def test_backward_of_a_non_scalar_without_gradient_raises_as_pytorch():
    check_raises(lambda ns, x: (x * 2).backward(), X)


def test_backward_with_an_explicit_gradient_matches_pytorch():
    def run(ns):
        x = ns.torch.tensor(X, requires_grad=True)
        (x * x).backward(ns.torch.tensor(np.ones_like(X) * 0.5))
        return x.grad.numpy()

    expected, actual = both(run)
    np.testing.assert_allclose(actual, expected)


def test_backward_with_a_gradient_of_the_wrong_shape_raises_as_pytorch():
    check_raises(lambda ns, x: (x * x).backward(ns.torch.ones(3)), X)


def test_backward_on_a_tensor_without_grad_raises_as_pytorch():
    check_raises(lambda ns, x: ns.torch.tensor(X).sum().backward(), X)


def test_requires_grad_on_an_integer_tensor_raises_as_pytorch():
    check_raises(lambda ns, x: ns.torch.tensor([1, 2]).requires_grad_(), X)


def test_leaf_and_grad_fn_flags_match_pytorch():
    def run(ns):
        x = ns.torch.tensor(X, requires_grad=True)
        y = x * 2
        return x.is_leaf, y.is_leaf, x.grad_fn is None, y.grad_fn is not None, ns.torch.tensor(X).is_leaf

    expected, actual = both(run)
    assert actual == expected


def test_grad_of_an_unused_input_stays_none():
    def run(ns):
        x = ns.torch.tensor(X, requires_grad=True)
        unused = ns.torch.tensor(X, requires_grad=True)
        (x * 2).sum().backward()
        return unused.grad is None, x.grad is not None

    expected, actual = both(run)
    assert actual == expected


def test_reused_tensor_sums_its_gradients():
    check(lambda ns, x: x * x + x.exp() * x - x, X)


def test_deep_chain_of_ten_thousand_ops_backpropagates():
    def run(ns):
        x = ns.torch.tensor(np.array([0.5]), requires_grad=True)
        y = x
        for _ in range(10_000):
            y = y * 1.0001
        y.sum().backward()
        return x.grad.numpy()

    expected, actual = both(run)
    np.testing.assert_allclose(actual, expected, rtol=1e-9)


def test_numpy_of_a_tensor_requiring_grad_raises_as_pytorch():
    check_raises(lambda ns, x: x.numpy(), X)


@pytest.mark.parametrize("holder", ["tensor", "array"])
def test_a_gradient_held_across_zero_grad_keeps_its_values_as_pytorch(holder):
    """Our zero_grad(set_to_none=True) keeps a gradient's array for the next backward only when nothing else
    holds it (Tensor._drop_grad); a program that holds the old gradient sees what PyTorch's sees."""

    def run(ns):
        ns.torch.manual_seed(0)
        layer = ns.nn.Linear(3, 2).double()
        optimizer = ns.torch.optim.SGD(layer.parameters(), lr=0.1)
        layer(ns.torch.tensor(X)).sum().backward()
        held = layer.weight.grad if holder == "tensor" else layer.weight.grad.numpy()
        optimizer.zero_grad(set_to_none=True)
        (layer(ns.torch.tensor(X)) ** 2).sum().backward()
        old = held.numpy() if holder == "tensor" else held
        return old.tolist(), layer.weight.grad is not None

    expected, actual = both(run)
    assert actual[0] == expected[0] == [X.sum(axis=0).tolist()] * 2 and actual[1] == expected[1]


@pytest.mark.parametrize("set_to_none", [True, False])
def test_module_zero_grad_matches_pytorch(set_to_none):
    def run(ns):
        layer = ns.nn.Linear(3, 2)
        layer(ns.torch.ones(1, 3)).sum().backward()
        layer.zero_grad(set_to_none=set_to_none)
        return [None if p.grad is None else p.grad.numpy().tolist() for p in layer.parameters()]

    expected, actual = both(run)
    assert actual == expected
