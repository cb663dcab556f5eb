"""What the learner's course programs use (issue 29), each against PyTorch: values, gradients, errors.

Random draws differ from PyTorch's (another generator); what is compared for them is what PyTorch
promises: a seeded Generator repeats itself and leaves the default stream alone, shapes and dtypes.
"""

import numpy as np
import pytest

from tests.conformance.oracle import OURS, TORCH, check, check_raises, random_array

rng = np.random.default_rng(29)


def both(fn):
    return fn(TORCH), fn(OURS)


def grads_of(ns, fn, *arrays):
    """fn(ns, *leaves) -> a scalar; returns (its value, each leaf's gradient) as NumPy."""
    leaves = [ns.torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(ns, *leaves)
    out.backward()
    return float(out.item()), [leaf.grad.detach().numpy() if leaf.grad is not None else None for leaf in leaves]


def assert_same_grads(fn, *arrays):
    (expected_value, expected), (value, actual) = both(lambda ns: grads_of(ns, fn, *arrays))
    np.testing.assert_allclose(value, expected_value, rtol=1e-10)
    for e, a in zip(expected, actual):
        if e is None:
            assert a is None or not a.any()
        else:
            np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


# ----- randomness ------------------------------------------------------------------------------------------


DRAWS = {
    "randn": lambda ns, g: ns.torch.randn((3, 4), generator=g),
    "rand": lambda ns, g: ns.torch.rand(5, generator=g),
    "randint": lambda ns, g: ns.torch.randint(0, 27, (6,), generator=g),
    "randperm": lambda ns, g: ns.torch.randperm(9, generator=g),
    "multinomial": lambda ns, g: ns.torch.multinomial(ns.torch.tensor([0.2, 0.3, 0.5]), 4, True, generator=g),
    "normal_": lambda ns, g: ns.torch.zeros(4).normal_(0.0, 2.0, generator=g),
    "uniform_": lambda ns, g: ns.torch.zeros(4).uniform_(-1.0, 1.0, generator=g),
    "init.normal_": lambda ns, g: ns.nn.init.normal_(ns.torch.zeros(3), 0.0, 0.02, generator=g),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_a_seeded_generator_repeats_its_draws_and_keeps_the_default_stream_as_pytorchs(name):
    def run(ns):
        g = ns.torch.Generator().manual_seed(2147483647)
        ns.torch.manual_seed(1)
        first = DRAWS[name](ns, g)
        default_after = ns.torch.rand(3).tolist()
        ns.torch.manual_seed(1)
        again = DRAWS[name](ns, ns.torch.Generator().manual_seed(2147483647))
        return (
            first.tolist() == again.tolist(),
            ns.torch.rand(3).tolist() == default_after,
            tuple(first.shape),
            str(first.dtype).split(".")[-1],
        )

    expected, actual = both(run)
    assert actual == expected == (True, True, expected[2], expected[3])


def test_generator_methods_as_pytorchs():
    def run(ns):
        g = ns.torch.Generator()
        s = g.seed()
        return (
            g.manual_seed(5) is g,
            g.initial_seed(),
            isinstance(s, int) and s == s,
            ns.torch.Generator().manual_seed(-1).initial_seed(),
            ns.torch.manual_seed(3) is ns.torch.default_generator,
            ns.torch.initial_seed(),
            ns.torch.cuda.manual_seed_all(4),
            ns.torch.cuda.manual_seed(4),
        )

    expected, actual = both(run)
    assert actual == expected


def test_a_bad_seed_is_an_error_as_in_pytorch():
    check_raises(lambda ns: ns.torch.Generator().manual_seed(1.5))
    check_raises(lambda ns: ns.torch.Generator().manual_seed(2**64))
    check_raises(lambda ns: ns.torch.randn(3, generator=5))


# ----- .data, in-place ops recorded by autograd, retain_grad ----------------------------------------------------


def test_data_update_line_of_the_course_matches_pytorch():
    def run(ns):
        p = ns.torch.tensor([1.0, -2.0, 3.0], dtype=ns.torch.float64, requires_grad=True)
        (p * p).sum().backward()
        d = p.data
        p.data += -0.1 * p.grad
        return p.tolist(), p.requires_grad, p.is_leaf, d.requires_grad, d.grad_fn is None

    expected, actual = both(run)
    assert actual == expected


def test_assigning_data_matches_pytorch():
    def run(ns):
        p = ns.torch.zeros(2, dtype=ns.torch.float64, requires_grad=True)
        p.data = ns.torch.ones(3, dtype=ns.torch.float64)
        return p.tolist(), p.requires_grad

    expected, actual = both(run)
    assert actual == expected


IN_PLACE = {
    "+=": lambda h, w: h.__iadd__(w),
    "-=": lambda h, w: h.__isub__(w * w),
    "*=": lambda h, w: h.__imul__(w),
    "/=": lambda h, w: h.__itruediv__(w + 3),
    "add_ alpha": lambda h, w: h.add_(w, alpha=0.5),
    "sub_": lambda h, w: h.sub_(2.0),
    "mul_": lambda h, w: h.mul_(w),
    "div_": lambda h, w: h.div_(4.0),
    "pow_": lambda h, w: h.pow_(3),
    "clamp_": lambda h, w: h.clamp_(min=-0.5, max=0.7),
    "zero_": lambda h, w: h.zero_(),
    "fill_": lambda h, w: h.fill_(w[0, 1]),
    "copy_": lambda h, w: h.copy_(w.exp()),
    "masked_fill_": lambda h, w: h.masked_fill_(w > 0, 2.0),
    "setitem slice": lambda h, w: h.__setitem__((slice(None), 0), w[:, 1] * 3),
    "setitem int += ": lambda h, w: h.__setitem__(0, h[0] + w[1]),
    "setitem advanced -=": lambda h, w: h.__setitem__(([0, 1], [2, 0]), h[[0, 1], [2, 0]] - 1),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_writes_into_a_non_leaf_give_pytorchs_values_and_gradients(name):
    def fn(ns, x, w):
        h = x.tanh() * 1.5  # a non-leaf: tanh saves its output, which the write must not disturb
        IN_PLACE[name](h, w)
        return (h * ns.torch.tensor(np.arange(6.0).reshape(2, 3))).sum()

    assert_same_grads(fn, random_array(rng, (2, 3)), random_array(rng, (2, 3)))


def test_x_index_plus_equals_into_zeros_as_makemore_part_4():
    def fn(ns, demb):
        d = demb * 1
        dC = ns.torch.zeros(4, 2, dtype=ns.torch.float64)
        for k, ix in enumerate([3, 1, 3]):
            dC[ix] += d[k]
        return (dC * ns.torch.tensor(np.arange(8.0).reshape(4, 2))).sum()

    assert_same_grads(fn, random_array(rng, (3, 2)))


def test_a_write_through_an_index_view_reaches_the_base():
    def fn(ns, x, w):
        h = x * 2
        h[1].mul_(w[0])
        h[:, 2:] += w[1, :1]
        return (h * h).sum()

    assert_same_grads(fn, random_array(rng, (2, 3)), random_array(rng, (2, 3)))


def test_writes_that_pytorch_refuses_we_refuse():
    x = random_array(rng, (2, 3))
    check_raises(lambda ns, t: t.add_(1), x)  # a leaf that requires grad
    check_raises(lambda ns, t: t[0].mul_(2), x)  # a view of one
    check_raises(lambda ns, t: t.__setitem__(0, 1.0), x)
    for ns in (TORCH, OURS):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            ns.torch.ones(2, requires_grad=True).mul_(2)


def test_a_saved_tensor_changed_in_place_makes_backward_raise_as_in_pytorch():
    def run(ns):
        x = ns.torch.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        y = h * h
        h += 1
        try:
            y.sum().backward()
        except RuntimeError as error:
            return "modified by an inplace operation" in str(error)
        return False

    expected, actual = both(run)
    assert actual == expected is True


def test_retain_grad_and_hooks_match_pytorch():
    def run(ns):
        x = ns.torch.tensor([1.0, -2.0, 0.5], dtype=ns.torch.float64, requires_grad=True)
        h = x.tanh()
        y = h * 3
        seen = []
        y.register_hook(lambda g: seen.append(g.tolist()))
        h.register_hook(lambda g: g * 2)
        h.retain_grad()
        (y * y).sum().backward()
        return h.retains_grad, h.grad.tolist(), x.grad.tolist(), seen, x.retains_grad

    expected, actual = both(run)
    np.testing.assert_allclose(actual[1], expected[1])
    np.testing.assert_allclose(actual[2], expected[2])
    assert actual[0] == expected[0] and actual[4] == expected[4]
    np.testing.assert_allclose(actual[3], expected[3])
    check_raises(lambda ns: ns.torch.ones(2).retain_grad())


# ----- names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["sum", "mean", "amax", "amin", "std", "var", "logsumexp", "torch.sum", "torch.mean"],
)
def test_keepdims_spelling_as_pytorchs(name):
    def fn(ns, x):
        if name.startswith("torch."):
            return getattr(ns.torch, name[6:])(x, 1, keepdims=True)
        return getattr(x, name)(1, keepdims=True)

    check(fn, random_array(rng, (3, 4)))


NAMES = {
    "nelement": lambda ns, x: x.nelement(),
    "log10": lambda ns, x: (x.abs() + 0.1).log10(),
    "torch.log10": lambda ns, x: ns.torch.log10(x.abs() + 0.1),
    "flip": lambda ns, x: x.flip(0),
    "torch.flip": lambda ns, x: ns.torch.flip(x, [0, 1]),
    "roll": lambda ns, x: ns.torch.roll(x, 2),
    "roll dims": lambda ns, x: ns.torch.roll(x, (1, -1), (0, 1)),
    "tril": lambda ns, x: x.tril(),
    "triu": lambda ns, x: x.triu(1),
    "cumsum": lambda ns, x: x.cumsum(1),
    "torch.cumsum": lambda ns, x: ns.torch.cumsum(x, 0),
    "sort": lambda ns, x: tuple(x.sort(1)),
    "sort descending": lambda ns, x: tuple(ns.torch.sort(x, 0, descending=True)),
    "logsumexp": lambda ns, x: ns.torch.logsumexp(x, 1),
    "logsumexp dims": lambda ns, x: x.logsumexp((0, 1)),
}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_names_give_pytorchs_values_and_gradients(name):
    check(NAMES[name], random_array(rng, (3, 4), distinct=True))


def test_int_cumsum_and_all_minus_infinity_logsumexp_as_pytorchs():
    check(lambda ns: ns.torch.tensor([[1, 2], [3, 4]]).cumsum(1))
    check(lambda ns: ns.torch.tensor([True, False, True]).cumsum(0))
    check(lambda ns: ns.torch.logsumexp(ns.torch.tensor([-float("inf"), -float("inf")]), 0), grad=False)


@pytest.mark.parametrize(
    "kwargs",
    [dict(bins=4), dict(bins=3, range=(0.0, 6.0)), dict(bins=5, density=True), dict(bins=3, weight="w")],
)
def test_histogram_as_pytorchs(kwargs):
    values = rng.uniform(0.0, 5.0, 50)
    weight = rng.uniform(0.0, 1.0, 50)

    def fn(ns):
        given = {k: (ns.torch.tensor(weight) if v == "w" else v) for k, v in kwargs.items()}
        hist, edges = ns.torch.histogram(ns.torch.tensor(values), **given)
        return hist, edges

    check(fn, grad=False)
    check(
        lambda ns: tuple(
            ns.torch.histogram(ns.torch.tensor(values), bins=ns.torch.tensor([0.0, 1.5, 5.0], dtype=ns.torch.float64))
        )
    )
    check_raises(lambda ns: ns.torch.histogram(ns.torch.tensor([1, 2]), bins=3))


def test_inference_mode_as_context_and_decorator():
    def run(ns):
        x = ns.torch.ones(2, requires_grad=True)
        with ns.torch.inference_mode():
            inside = (x * 2).requires_grad

        @ns.torch.inference_mode()
        def decorated():
            return (x * 2).requires_grad

        with ns.torch.inference_mode(False):
            off = (x * 2).requires_grad
        return inside, decorated(), off, (x * 2).requires_grad

    expected, actual = both(run)
    assert actual == expected


def test_autograd_backward_as_pytorchs():
    def run(ns):
        x = ns.torch.tensor([1.0, 2.0], dtype=ns.torch.float64, requires_grad=True)
        ns.torch.autograd.backward((x * x).sum())
        first = x.grad.tolist()
        ns.torch.autograd.backward([x * 3, x.exp()], [ns.torch.ones(2, dtype=ns.torch.float64)] * 2)
        return first, x.grad.tolist()

    expected, actual = both(run)
    np.testing.assert_allclose(actual, expected)


# ----- torch.save / torch.load ---------------------------------------------------------------------------


def test_save_and_load_give_back_what_pytorch_gives_back(tmp_path):
    def run(ns):
        model = ns.nn.Linear(3, 2)
        optimizer = ns.optim.AdamW(model.parameters(), lr=0.1)
        model(ns.torch.ones(4, 3)).sum().backward()
        optimizer.step()
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": 7,
            "loss": 1.5,
            "name": "mlp",
            "pair": (1, None),
            "grads": [ns.torch.ones(2, requires_grad=True)],
        }
        path = tmp_path / f"{ns.name}.pt"
        ns.torch.save(state, str(path))
        loaded = ns.torch.load(str(path), map_location="cpu")
        restored = ns.optim.AdamW(model.parameters(), lr=0.1)
        restored.load_state_dict(loaded["optimizer"])
        return (
            sorted(loaded),
            sorted(loaded["model"]),
            [loaded["model"][k].tolist() == v.tolist() for k, v in model.state_dict().items()],
            loaded["step"],
            loaded["loss"],
            loaded["name"],
            loaded["pair"],
            loaded["grads"][0].requires_grad,
            restored.state_dict()["param_groups"][0]["lr"],
            sorted(loaded["optimizer"]["state"]),
        )

    expected, actual = both(run)
    assert actual == expected


def test_load_refuses_a_pytorch_pickle_and_names_safetensors(tmp_path):
    import torch

    import tensor

    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, str(path))
    with pytest.raises(ValueError, match="PyTorch pickle file.*safetensors"):
        tensor.load(str(path))


def test_autograd_grad_as_pytorchs():
    def run(ns):
        x = ns.torch.tensor([1.0, 2.0], dtype=ns.torch.float64, requires_grad=True)
        w = ns.torch.tensor([0.5, -1.0], dtype=ns.torch.float64, requires_grad=True)
        h = x * w
        gx, gh = ns.torch.autograd.grad((h * h).sum(), [x, h])
        unused = ns.torch.autograd.grad((x * 2).sum(), [x, w], allow_unused=True)
        return gx.tolist(), gh.tolist(), x.grad, w.grad, unused[0].tolist(), unused[1]

    expected, actual = both(run)
    assert actual == expected
    x = np.array([1.0, 2.0])
    check_raises(lambda ns, t: ns.torch.autograd.grad((t * 2).sum(), [t, ns.torch.ones(1, requires_grad=True)]), x)
