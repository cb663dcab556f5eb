"""Test-wide setup: Hypothesis profiles and the `device` parameter.

Every test that takes a `device` argument runs once per device: "cpu" always,
"cuda" when CuPy and a GPU are present (otherwise that case is skipped with
the reason). Hypothesis runs fewer examples under CI=true ("ci" profile) so
the suite stays under 10 minutes on 2 cores; every property is still checked.
"""

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

import tensor

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
