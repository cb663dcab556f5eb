"""The module system: registration, traversal, modes, devices, state dicts with PyTorch's keys."""

import numpy as np
import pytest

import nn
import tensor


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.key = nn.Linear(4, 2, bias=False)
        self.query = nn.Linear(4, 2, bias=False)
        self.register_buffer("tril", tensor.tril(tensor.ones(3, 3)))
        self.register_buffer("scratch", tensor.zeros(2), persistent=False)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(*[nn.Module() for _ in range(2)])
        for block in self.blocks:
            block.heads = nn.ModuleList([Head(), Head()])
        self.lm_head = nn.Linear(4, 5)

    def forward(self, x):
        return self.lm_head(x)


def test_state_dict_keys_follow_pytorch_naming():
    keys = list(Model().state_dict())
    assert "blocks.0.heads.1.key.weight" in keys and "blocks.1.heads.0.tril" in keys
    assert "lm_head.weight" in keys and "lm_head.bias" in keys
    assert not any("scratch" in k for k in keys)  # non-persistent buffers are not saved
    assert Model().state_dict()["lm_head.weight"].shape == (5, 4)  # (out_features, in_features)


def test_parameters_modules_children_and_named_parameters():
    model = Model()
    names = [name for name, _ in model.named_parameters()]
    assert len(names) == len(list(model.parameters())) == 2 * 2 * 2 + 2
    assert [name for name, _ in model.named_children()] == ["blocks", "lm_head"]
    assert sum(isinstance(m, Head) for m in model.modules()) == 4


def test_shared_parameter_is_listed_once():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight  # weight tying
    model = nn.Sequential(a, b)
    assert len(list(model.parameters())) == 3


def test_train_eval_and_apply_reach_every_submodule():
    model = Model()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Model" and visited.count("Head") == 4


def test_zero_grad_clears_every_parameter():
    model = Model()
    model(tensor.randn(2, 4)).sum().backward()
    assert model.lm_head.weight.grad is not None
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_moves_parameters_and_buffers_keeping_identity(device):
    model = Model()
    weight = model.lm_head.weight
    model.to(device).double()
    assert model.lm_head.weight is weight and weight.device == device and weight.dtype == tensor.float64
    assert model.blocks[0].heads[0].tril.device == device


def test_load_state_dict_round_trip_and_errors():
    source, target = Model(), Model()
    target.load_state_dict(source.state_dict())
    assert tensor.equal(source.lm_head.weight, target.lm_head.weight)
    state = source.state_dict()
    del state["lm_head.bias"]
    state["lm_head.weigth"] = tensor.zeros(1)
    with pytest.raises(
        RuntimeError,
        match=r"missing keys \['lm_head.bias'\]; unexpected keys \['lm_head.weigth' \(did you mean 'lm_head.weight'\?\)\]",
    ):
        target.load_state_dict(state)
    result = target.load_state_dict(state, strict=False)
    assert result.missing_keys == ["lm_head.bias"] and result.unexpected_keys == ["lm_head.weigth"]
    only_missing = source.state_dict()
    del only_missing["lm_head.bias"]
    with pytest.raises(RuntimeError) as error:
        target.load_state_dict(only_missing)
    assert "missing keys ['lm_head.bias']" in str(error.value) and "unexpected" not in str(error.value)


def test_a_failed_load_state_dict_changes_nothing():
    source, target = Model(), Model()
    before = {k: v.numpy().copy() for k, v in target.state_dict().items()}
    bad = source.state_dict()
    last = list(bad)[-1]
    bad[last] = tensor.zeros(*[n + 1 for n in bad[last].shape])  # every key before it is fine
    with pytest.raises(RuntimeError, match=rf"size mismatch for '{last}': \([\d, ]+\) in the state dict"):
        target.load_state_dict(bad)
    assert all(np.array_equal(before[k], v.numpy()) for k, v in target.state_dict().items())


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_repr_shows_the_tree():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in text and "(1): ReLU()" in text


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"input of shape \(2, 3\) does not end in in_features = 4"):
        nn.Linear(4, 2)(tensor.zeros(2, 3))
    with pytest.raises(RuntimeError, match="got input tensor.float64, weight tensor.float32, bias tensor.float32"):
        nn.Linear(3, 2)(tensor.zeros(2, 3, dtype=tensor.float64))
    with pytest.raises(IndexError, match="target 7 is out of range for 3 classes"):
        nn.functional.cross_entropy(tensor.zeros(2, 3), tensor.tensor([0, 7]))
    with pytest.raises(TypeError, match="integer class indices"):
        nn.functional.cross_entropy(tensor.zeros(2, 3), tensor.zeros(2))
    with pytest.raises(ValueError, match=r"expected input \(N, C\) and target \(N,\)"):
        nn.functional.cross_entropy(tensor.zeros(2, 3), tensor.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="does not end in normalized_shape"):
        nn.LayerNorm(5)(tensor.zeros(2, 4))
    with pytest.raises(ValueError, match="not divisible"):
        nn.MultiHeadAttention(6, 4)
    with pytest.raises(TypeError, match="indices must be integers"):
        nn.Embedding(3, 2)(tensor.zeros(2))


def test_embedding_index_out_of_range_names_it():
    with pytest.raises(IndexError, match="index 5 is out of range for 3 embeddings"):
        nn.Embedding(3, 2)(tensor.tensor([0, 5]))
