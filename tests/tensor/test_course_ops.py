"""The ops the learner's course programs use (tensor/course_ops.py): values, gradients against finite
differences, and the errors (issue 29). PyTorch's own answers are in tests/conformance/test_learner_api.py."""

import numpy as np
import pytest

import tensor
from tensor.optim import SGD, lr_scheduler


def x64(values, requires_grad=True):
    return tensor.tensor(values, dtype=tensor.float64, requires_grad=requires_grad)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.cumsum(1),
        lambda x: x.cumsum(0),
        lambda x: x.logsumexp(1),
        lambda x: x.logsumexp(0, keepdim=True),
        lambda x: tensor.roll(x, (1, 2), (0, 1)),
        lambda x: tensor.roll(x, -1),
        lambda x: x.flip(0, 1),
        lambda x: x.sort(1, descending=True).values,
        lambda x: (x.abs() + 0.5).log10(),
    ],
)
def test_gradients_match_finite_differences(fn):
    x = x64(np.random.default_rng(0).uniform(-2, 2, (3, 4)))
    assert tensor.gradcheck(fn, (x,))


def test_cumsum_sort_roll_flip_values():
    x = tensor.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert x.cumsum(1).tolist() == [[3.0, 4.0, 6.0], [0.0, 5.0, 9.0]]
    values, indices = x.sort(1)
    assert values.tolist() == [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]] and indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert tensor.roll(tensor.arange(5), 2).tolist() == [3, 4, 0, 1, 2]
    assert x.flip(1).tolist() == [[2.0, 1.0, 3.0], [4.0, 5.0, 0.0]] and x.flip(1)._array.base is None
    assert tensor.tensor([1, 2, 3], dtype=tensor.int32).cumsum(0).dtype == tensor.int64


def test_logsumexp_is_stable_for_large_values_and_all_minus_infinity():
    x = tensor.tensor([1000.0, 1000.0])
    assert x.logsumexp(0).item() == pytest.approx(1000.0 + np.log(2.0))
    with np.errstate(divide="ignore"):
        assert tensor.logsumexp(tensor.tensor([-np.inf, -np.inf]), 0).item() == -np.inf


def test_histogram_counts_and_edges():
    hist, edges = tensor.histogram(tensor.tensor([1.0, 2.0, 1.0, 4.0]), bins=3)
    assert hist.tolist() == [2.0, 1.0, 1.0] and edges.tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(NotImplementedError, match="histogram.*int64"):
        tensor.histogram(tensor.tensor([1, 2]))


def test_keepdims_is_keepdim():
    x = tensor.ones(2, 3)
    assert x.sum(1, keepdims=True).shape == (2, 1) and tensor.mean(x, 0, keepdims=True).shape == (1, 3)
    assert x.max(1, keepdims=True).values.shape == (2, 1) and x.sum(1, keepdims=False).shape == (2,)


def test_inference_mode_records_no_graph_and_restores_grad_mode():
    x = tensor.ones(2, requires_grad=True)
    with tensor.inference_mode():
        assert not (x * 2).requires_grad
    assert tensor.is_grad_enabled()

    @tensor.inference_mode
    def bare():
        return (x * 2).requires_grad

    assert bare() is False and (x * 2).requires_grad


def test_autograd_backward_of_several_tensors_adds_their_gradients():
    x = x64([1.0, 2.0])
    tensor.autograd.backward([x * 2, x * x], [tensor.ones(2, dtype=tensor.float64)] * 2)
    assert x.grad.tolist() == [4.0, 6.0]
    with pytest.raises(RuntimeError, match="grad_tensors has 1 gradient"):
        tensor.autograd.backward([x * 2, x * 3], [tensor.ones(2, dtype=tensor.float64)])


def test_exponential_and_multistep_schedules():
    opt = SGD([tensor.zeros(1, requires_grad=True)], lr=1.0)
    exponential = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    rates = []
    for _ in range(3):
        rates.append(opt.param_groups[0]["lr"])
        exponential.step()
    assert rates == [1.0, 0.5, 0.25]
    opt = SGD([tensor.zeros(1, requires_grad=True)], lr=1.0)
    multistep = lr_scheduler.MultiStepLR(opt, milestones=[2, 1], gamma=0.1)
    rates = []
    for _ in range(4):
        rates.append(opt.param_groups[0]["lr"])
        multistep.step()
    assert rates == pytest.approx([1.0, 0.1, 0.01, 0.01])
