"""Test-wide setup: Hypothesis profiles, the strict CuPy stand-in, and the `device` parameter.

Every test that takes a `device` argument runs once per device: "cpu" always,
"cuda" when CuPy and a GPU are present (otherwise that case is skipped with
the reason). With TINYGRAD_GPT_FAKE_CUPY=1 the suite puts tests/support/fake_cupy
in place of CuPy (sys.modules "cupy", "cupyx", "cupyx.scipy.special") before
anything imports it, so every "cuda" case runs on the host against a strict
imitation of CuPy; the library's own `import cupy` is unchanged. Hypothesis runs
fewer examples under CI=true ("ci" profile) so the suite stays under 10 minutes
on 2 cores; every property is still checked.
"""

import os
import sys
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

FAKE_CUPY = os.environ.get("TINYGRAD_GPT_FAKE_CUPY") == "1"
if FAKE_CUPY:
    from tests.support import fake_cupy

    fake_cupy.install()

import tensor  # noqa: E402  after the stand-in, so nothing can import the real CuPy first

if FAKE_CUPY:  # the cuBLAS that a CUDA graph capture calls itself (tensor/cublas.py), on the stand-in's memory
    from tests.support.fake_cupy_cublas import Library

    tensor.fast.cublas._loaded["library"] = Library()

settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

CUDA_AVAILABLE = tensor.cuda.is_available()


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        cuda = pytest.param("cuda", marks=pytest.mark.skipif(not CUDA_AVAILABLE, reason="needs CuPy and a GPU"))
        metafunc.parametrize("device", ["cpu", cuda])


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state, so failures reproduce."""
    tensor.manual_seed(0)


@pytest.fixture
def fake_cuda(monkeypatch):
    """The CuPy stand-in as device "cuda" for one test, in either pass (sys.modules restored after).

    For tests that need the stand-in itself: counting host reads, or running "cuda" where no GPU is."""
    from tests.support import fake_cupy
    from tests.support.fake_cupy_cublas import Library

    for name, module in fake_cupy.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(tensor.backend, "_cupy", None)  # the backend imports "cupy" afresh
    monkeypatch.setattr(tensor.fast.cublas, "_loaded", {"library": Library()})  # what a capture's products call
    return fake_cupy


def pytest_terminal_summary(terminalreporter):
    """Why tests were skipped, in one line (without a GPU: the "cuda" cases)."""
    reasons = Counter(
        report.longrepr[2].removeprefix("Skipped: ")
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple)
    )
    if reasons:
        terminalreporter.write_line(
            "skipped: " + "; ".join(f"{n} test{'s' * (n > 1)} ({reason})" for reason, n in reasons.most_common())
        )
