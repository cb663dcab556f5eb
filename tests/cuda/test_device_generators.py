"""Device generators: randperm on every device, and states that save and restore exactly."""

import pytest

import nn.functional as F
import tensor


def test_randperm_is_a_permutation_reproducible_under_manual_seed(device):
    tensor.manual_seed(4)
    first = tensor.randperm(50, device=device)
    assert first.device == device and first.dtype == tensor.int64
    assert sorted(first.tolist()) == list(range(50))
    tensor.manual_seed(4)
    assert tensor.randperm(50, device=device).tolist() == first.tolist()
    assert tensor.randperm(50, device=device).tolist() != first.tolist()  # the next draw is another order


def test_randperm_of_zero_and_one(device):
    assert tensor.randperm(0, device=device).tolist() == []
    assert tensor.randperm(1, device=device).tolist() == [0]


def test_restoring_a_generator_state_repeats_every_kind_of_draw(device):
    tensor.manual_seed(11)
    tensor.rand(3, device=device)  # the state is taken in the middle of a stream
    state = tensor.get_rng_state(device)
    x = tensor.ones(4, 5, device=device)

    def draws():
        return (
            tensor.rand(6, device=device).tolist(),
            tensor.randn(6, device=device).tolist(),
            tensor.randint(0, 100, (6,), device=device).tolist(),
            tensor.randperm(6, device=device).tolist(),
            F.dropout(x, 0.5).tolist(),
        )

    first = draws()
    tensor.manual_seed(99)  # anything may happen in between, as in a new process
    tensor.randn(7, device=device)
    tensor.set_rng_state(state, device)
    assert draws() == first


def test_the_cuda_state_is_two_integers_readable_without_a_gpu():
    tensor.manual_seed(5)
    state = tensor.cuda.get_rng_state()
    assert state == {"seed": 5, "draws": 0}
    tensor.cuda.set_rng_state({"seed": 6, "draws": 3})
    assert tensor.cuda.get_rng_state() == {"seed": 6, "draws": 3}
    assert tensor.get_rng_state() != tensor.cuda.get_rng_state()  # one generator per device


def test_a_cuda_state_is_checked_when_it_is_set():
    with pytest.raises(ValueError, match="'seed' and 'draws'"):
        tensor.cuda.set_rng_state({"seed": 1})


def test_cuda_draws_move_the_count_and_a_restored_count_gives_the_same_draw(fake_cuda):
    tensor.manual_seed(2)
    tensor.rand(3, device="cuda")
    tensor.randn(3, device="cuda")
    assert tensor.cuda.get_rng_state() == {"seed": 2, "draws": 2}
    third = tensor.rand(4, device="cuda").tolist()
    tensor.cuda.set_rng_state({"seed": 2, "draws": 2})
    assert tensor.rand(4, device="cuda").tolist() == third
    assert tensor.get_rng_state() == tensor.generator("cpu").get_state()  # the CPU stream was not touched


def test_cuda_0_is_the_gpu_and_cuda_1_is_an_error_naming_the_count(fake_cuda, monkeypatch):
    assert tensor.zeros(2, device="cuda:0").device == "cuda"
    with pytest.raises(RuntimeError, match=r"'cuda:1'.*\"cuda:0\".*this machine has 1 GPU$"):
        tensor.zeros(2, device="cuda:1")
    monkeypatch.setattr(fake_cuda.cuda.runtime, "device_count", 2)
    with pytest.raises(RuntimeError, match="this machine has 2 GPUs"):
        tensor.ones(2).to("cuda:1")
    with pytest.raises(ValueError, match="must be a number"):
        tensor.zeros(2, device="cuda:x")
