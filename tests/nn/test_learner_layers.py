"""BatchNorm1d, the losses, one_hot and the small layers, checked against their formulas and by gradcheck."""

import numpy as np
import pytest

import nn
import nn.functional as F
import tensor


def randn(*shape, requires_grad=False):
    return tensor.randn(*shape, dtype=tensor.float64, requires_grad=requires_grad)


def test_batch_norm_normalizes_each_channel_of_the_batch_in_training():
    x = randn(64, 3, 5) * 4 + 7
    y = nn.BatchNorm1d(3).double()(x).detach().numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, rtol=1e-3)  # var / (var + eps)


def test_running_stats_move_by_momentum_with_the_unbiased_variance():
    layer = nn.BatchNorm1d(2, momentum=0.25).double()
    x = randn(10, 2)
    layer(x)
    a = x.numpy()
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.25 * a.mean(0))
    np.testing.assert_allclose(layer.running_var.numpy(), 0.75 + 0.25 * a.var(0, ddof=1))
    assert layer.num_batches_tracked.item() == 1


def test_momentum_none_makes_the_running_stats_the_plain_average_of_every_batch():
    layer = nn.BatchNorm1d(2, momentum=None).double()
    batches = [randn(6, 2) for _ in range(4)]
    for b in batches:
        layer(b)
    np.testing.assert_allclose(layer.running_mean.numpy(), np.mean([b.numpy().mean(0) for b in batches], axis=0))
    np.testing.assert_allclose(layer.running_var.numpy(), np.mean([b.numpy().var(0, ddof=1) for b in batches], axis=0))


def test_eval_normalizes_by_the_running_stats_so_one_example_does_not_depend_on_its_batch():
    layer = nn.BatchNorm1d(3).double()
    layer.running_mean.copy_(tensor.tensor([1.0, 2.0, 3.0], dtype=tensor.float64))
    layer.running_var.copy_(tensor.tensor([4.0, 1.0, 0.25], dtype=tensor.float64))
    layer.eval()
    x = randn(5, 3)
    expected = (x.numpy() - [1, 2, 3]) / np.sqrt(np.array([4.0, 1.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(layer(x).detach().numpy(), expected)
    np.testing.assert_allclose(layer(x[:1]).detach().numpy(), expected[:1])
    assert layer.num_batches_tracked.item() == 0  # eval leaves the stats alone


def test_without_running_stats_the_batch_normalizes_in_eval_too():
    layer = nn.BatchNorm1d(3, track_running_stats=False, affine=False).double().eval()
    assert layer.running_mean is None and list(layer.state_dict()) == []
    y = layer(randn(32, 3) + 5).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-10)


def test_batch_norm_gradients_pass_gradcheck():
    layer = nn.BatchNorm1d(3).double()
    x = randn(6, 3, 2, requires_grad=True)
    assert tensor.gradcheck(lambda x, w, b: layer(x), [x, layer.weight, layer.bias])


def test_a_cast_leaves_num_batches_tracked_an_integer():
    assert nn.BatchNorm1d(2).double().num_batches_tracked.dtype == tensor.int64


def test_batch_norm_refuses_one_value_per_channel_in_training_and_wrong_shapes():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tensor.zeros(1, 3))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(tensor.zeros(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match=r"\(4, 2\) has 2 channels"):
        nn.BatchNorm1d(3)(tensor.zeros(4, 2))


def test_weighted_cross_entropy_is_the_weighted_mean_of_the_rows_losses():
    logits, targets, weights = randn(5, 4), tensor.tensor([0, 3, 1, 1, 2]), np.array([0.5, 1.0, 2.0, 3.0])
    loss = F.cross_entropy(logits, targets, weight=tensor.tensor(weights)).item()
    log_p = logits.numpy() - np.log(np.exp(logits.numpy()).sum(1, keepdims=True))
    w_t = weights[targets.numpy()]
    assert loss == pytest.approx(-(w_t * log_p[np.arange(5), targets.numpy()]).sum() / w_t.sum())


def test_probability_targets_equal_index_targets_when_one_hot():
    logits, targets = randn(5, 4), tensor.tensor([0, 3, 1, 1, 2])
    one_hot = F.one_hot(targets, 4).double()
    assert F.cross_entropy(logits, one_hot).item() == pytest.approx(F.cross_entropy(logits, targets).item())
    smoothed = dict(label_smoothing=0.3)
    assert F.cross_entropy(logits, one_hot, **smoothed).item() == pytest.approx(
        F.cross_entropy(logits, targets, **smoothed).item()
    )


def test_the_general_cross_entropy_equals_the_fused_one_where_both_apply():
    """Weights of 1 send the same problem through the composed path: ignore_index and smoothing included."""
    logits, targets = randn(6, 4), tensor.tensor([0, 3, -100, 1, 2, 1])
    for options in ({}, {"label_smoothing": 0.2}, {"reduction": "sum"}, {"reduction": "none"}):
        fused = F.cross_entropy(logits, targets, **options)
        composed = F.cross_entropy(logits, targets, weight=tensor.ones(4, dtype=tensor.float64), **options)
        np.testing.assert_allclose(composed.numpy(), fused.numpy(), rtol=1e-12)


def test_general_cross_entropy_gradients_pass_gradcheck():
    weight = tensor.tensor([0.5, 1.0, 2.0, 3.0], dtype=tensor.float64)
    targets = tensor.tensor([0, 3, -100, 1])
    probabilities = F.softmax(randn(4, 4), dim=1).detach()
    x = randn(4, 4, requires_grad=True)
    assert tensor.gradcheck(lambda x: F.cross_entropy(x, targets, weight=weight, label_smoothing=0.1), [x])
    assert tensor.gradcheck(lambda x: F.cross_entropy(x, probabilities, weight=weight), [x])
    assert tensor.gradcheck(lambda x: F.cross_entropy(x[0], targets[0]), [x])


def test_loss_modules_hold_their_options():
    logits, targets = randn(6, 4), tensor.tensor([0, 3, 1, 1, 2, 1])
    loss = nn.CrossEntropyLoss(ignore_index=1, reduction="sum", label_smoothing=0.1)(logits, targets)
    assert loss.item() == pytest.approx(
        F.cross_entropy(logits, targets, ignore_index=1, reduction="sum", label_smoothing=0.1).item()
    )
    a, b = randn(3, 2), randn(3, 2)
    assert nn.MSELoss()(a, b).item() == pytest.approx(((a.numpy() - b.numpy()) ** 2).mean())
    assert nn.MSELoss(reduction="sum")(a, b).item() == pytest.approx(((a.numpy() - b.numpy()) ** 2).sum())
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(a, b, reduction="average")


def test_one_hot_rows_have_a_single_one_at_the_class():
    out = F.one_hot(tensor.tensor([[2, 0], [1, 4]]))
    assert out.shape == (2, 2, 5) and out.dtype == tensor.int64
    np.testing.assert_array_equal(out.numpy().argmax(-1), [[2, 0], [1, 4]])
    assert out.numpy().sum() == 4
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(tensor.tensor([3]), 3)


def test_identity_sigmoid_and_flatten():
    x = randn(2, 3, 4)
    assert nn.Identity("any", argument=1)(x) is x
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-x.numpy())))
    np.testing.assert_allclose(F.sigmoid(x).numpy(), 1 / (1 + np.exp(-x.numpy())))
    assert nn.Flatten()(x).shape == (2, 12) and nn.Flatten(0, 1)(x).shape == (6, 4)
