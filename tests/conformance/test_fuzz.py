"""The differential fuzzer in CI (tests/conformance/fuzz/): random programs agree with PyTorch.

A fixed number of programs (FUZZ_EXAMPLES, 800 by default: about a minute and a half on two cores) so CI's
time stays bounded; the long run is `python -m tests.conformance.fuzz --minutes 10 --seed N`.
The harness is tested too: PyTorch against itself finds nothing, and each kind of difference
it must see (values, NaN places, dtype, shape, flags, .grad, a value where PyTorch raises) it sees.
"""

import os
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from .fuzz.harness import TOLERANCE_FLOAT64, TORCH, Divergence, Session, compare_values, minimize, run_program  # noqa: E402
from .fuzz.programs import run_drawn_program  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "800"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
TORCH_AGAIN = SimpleNamespace(name="torch again", modules=TORCH.modules)


@FUZZ
@given(st.data())
def test_random_programs_agree_with_pytorch_after_every_line(data):
    try:
        run_drawn_program(data.draw, Session())
    except Divergence as divergence:
        run_program(minimize(divergence.lines))  # raises again, with the program cut to the lines that matter
        raise


@settings(FUZZ, max_examples=max(EXAMPLES // 3, 10))
@given(st.data())
def test_the_harness_finds_nothing_running_pytorch_against_pytorch(data):
    session = run_drawn_program(data.draw, Session(TORCH, TORCH_AGAIN), optimizers=True)
    assert session.gap is None


def test_a_value_where_pytorch_raises_is_a_divergence():
    lenient = SimpleNamespace(name="lenient", modules={"torch": SimpleNamespace(undefined=lambda: 1)})
    with pytest.raises(Divergence, match="PyTorch raises"):
        run_program(["v0 = torch.undefined()"], TORCH, lenient)


def test_a_refusal_where_pytorch_gives_a_value_is_a_gap_not_a_divergence():
    strict = SimpleNamespace(name="strict", modules={"torch": SimpleNamespace()})
    session = run_program(["v0 = torch.ones(2)", "v1 = v0 * 2"], TORCH, strict)
    assert session.gap and session.stopped and len(session.lines) == 1


@pytest.mark.parametrize(
    ("make_ours", "problem"),
    [
        (lambda t: t + 1e-6, "values differ"),
        (lambda t: torch.where(t > 1, torch.nan, t), "values differ"),
        (lambda t: t.float(), "dtype"),
        (lambda t: t[None], "shape"),
        (lambda t: t.detach().requires_grad_(), "requires_grad"),
    ],
)
def test_the_harness_sees_each_kind_of_difference(make_ours, problem):
    expected = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert problem in compare_values(expected, make_ours(expected), TOLERANCE_FLOAT64)


def test_the_harness_compares_is_leaf():
    expected = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert "is_leaf" in compare_values(expected, expected * 1, TOLERANCE_FLOAT64)


def test_the_harness_compares_grads():
    expected = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    actual = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    expected.grad = torch.tensor([1.0, 1.0], dtype=torch.float64)
    assert ".grad is None" in compare_values(expected, actual, TOLERANCE_FLOAT64)
    actual.grad = torch.tensor([1.0, np.nan], dtype=torch.float64)
    assert ".grad differs" in compare_values(expected, actual, TOLERANCE_FLOAT64)
