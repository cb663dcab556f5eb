"""tensor.Generator and generator=: each random function draws from the generator it is given,
so a program's own stream is reproducible and independent of the default one (issue 29)."""

import json

import numpy as np
import pytest

import nn
import tensor

DRAWS = {
    "randn": lambda g: tensor.randn(2, 3, generator=g),
    "rand": lambda g: tensor.rand((4,), generator=g),
    "randint": lambda g: tensor.randint(0, 27, (5,), generator=g),
    "randint high only": lambda g: tensor.randint(10, (5,), generator=g),
    "randperm": lambda g: tensor.randperm(7, generator=g),
    "multinomial": lambda g: tensor.multinomial(tensor.tensor([0.1, 0.5, 0.4]), 6, replacement=True, generator=g),
    "normal_": lambda g: tensor.zeros(5).normal_(1.0, 2.0, generator=g),
    "uniform_": lambda g: tensor.zeros(5).uniform_(-1.0, 1.0, generator=g),
    "nn.init.normal_": lambda g: nn.init.normal_(tensor.zeros(5), 0.0, 0.02, generator=g),
    "nn.init.uniform_": lambda g: nn.init.uniform_(tensor.zeros(5), -0.1, 0.1, generator=g),
}


def test_manual_seed_returns_the_generator_itself():
    g = tensor.Generator()
    assert g.manual_seed(2147483647) is g and g.initial_seed() == 2147483647 and g.device == "cpu"


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_a_seeded_generator_repeats_its_draws_whatever_the_default_generator_does(name):
    draw = DRAWS[name]
    first = draw(tensor.Generator().manual_seed(42)).tolist()
    tensor.manual_seed(0)
    tensor.randn(10)  # the default stream moves; the seeded generator's must not care
    assert draw(tensor.Generator().manual_seed(42)).tolist() == first
    assert draw(tensor.Generator().manual_seed(43)).tolist() != first


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_a_draw_from_a_generator_leaves_the_default_stream_alone(name):
    tensor.manual_seed(5)
    expected = tensor.randn(4).tolist()
    tensor.manual_seed(5)
    DRAWS[name](tensor.Generator().manual_seed(1))
    assert tensor.randn(4).tolist() == expected


def test_consecutive_draws_from_one_generator_differ_and_replay_from_the_seed():
    g = tensor.Generator().manual_seed(7)
    a, b = tensor.randn(3, generator=g).tolist(), tensor.randn(3, generator=g).tolist()
    g.manual_seed(7)
    assert a != b and tensor.randn(3, generator=g).tolist() == a


def test_state_round_trip_through_json_replays_the_same_draws():
    g = tensor.Generator().manual_seed(3)
    state = json.loads(json.dumps(g.get_state()))  # a checkpoint holds it as plain JSON
    a, order = tensor.rand(4, generator=g).tolist(), tensor.randperm(9, generator=g).tolist()
    assert g.set_state(state) is g and tensor.rand(4, generator=g).tolist() == a
    assert tensor.randperm(9, generator=g).tolist() == order


def test_a_state_of_another_kind_of_generator_is_refused_by_name():
    old_state = np.random.default_rng(0).bit_generator.state  # what the CPU generator's state was before MT19937
    with pytest.raises(ValueError, match="got 'PCG64'"):
        tensor.Generator().set_state(old_state)


def test_seed_reseeds_from_entropy_and_reports_the_seed():
    g = tensor.Generator()
    s = g.seed()
    assert g.initial_seed() == s
    assert (
        tensor.randn(3, generator=g).tolist() == tensor.randn(3, generator=tensor.Generator().manual_seed(s)).tolist()
    )


def test_seeds_are_64_bit_as_in_pytorch():
    assert tensor.Generator().manual_seed(-1).initial_seed() == 2**64 - 1
    with pytest.raises(RuntimeError, match="manual_seed expected a long, but got float"):
        tensor.Generator().manual_seed(1.5)
    with pytest.raises(ValueError, match="64 bits"):
        tensor.Generator().manual_seed(2**64)


def test_the_default_generator_is_a_generator_and_manual_seed_returns_it():
    assert isinstance(tensor.default_generator, tensor.Generator)
    assert tensor.manual_seed(11) is tensor.default_generator and tensor.initial_seed() == 11
    a = tensor.randn(3).tolist()
    tensor.default_generator.manual_seed(11)
    assert tensor.randn(3).tolist() == a
    assert tensor.random.manual_seed is tensor.manual_seed


def test_a_generator_of_another_device_or_type_is_refused():
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
        tensor.randn(3, device="cuda", generator=tensor.Generator())
    with pytest.raises(TypeError, match="generator= must be a tensor.Generator, got int"):
        tensor.randn(3, generator=5)


def test_cuda_manual_seed_all_reseeds_the_cuda_generator_without_a_gpu():
    assert tensor.cuda.manual_seed_all(123) is None
    assert tensor.generator("cuda").initial_seed() == 123 == tensor.cuda.initial_seed()
    tensor.cuda.manual_seed(124)
    assert tensor.generator("cuda").get_state() == {"seed": 124, "draws": 0}


def test_normal_fills_with_the_asked_mean_and_std():
    x = tensor.zeros(20000, dtype=tensor.float64).normal_(3.0, 0.5, generator=tensor.Generator().manual_seed(0))
    assert abs(float(x.mean()) - 3.0) < 0.02 and abs(float(x.std()) - 0.5) < 0.02
    u = tensor.zeros(20000).uniform_(2.0, 4.0)
    assert float(u.min()) >= 2.0 and float(u.max()) < 4.0 and abs(float(u.mean()) - 3.0) < 0.03
    assert x.dtype == tensor.float64 and u.dtype == tensor.float32


def test_multinomial_with_a_generator_follows_the_probabilities():
    g = tensor.Generator().manual_seed(0)
    samples = tensor.multinomial(tensor.tensor([0.2, 0.0, 0.8]), 4000, replacement=True, generator=g).numpy()
    counts = np.bincount(samples, minlength=3) / 4000
    assert counts[1] == 0 and abs(counts[0] - 0.2) < 0.03
