"""pytest says in one line why tests were skipped (tests/conftest.py's summary hook)."""

import re
import subprocess
import sys

from tests.conftest import CUDA_AVAILABLE

from .cli_helpers import ROOT


def test_the_skipped_tests_are_the_gpu_cases_in_one_summary_line():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/tensor/test_optim.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
    summary = [line for line in result.stdout.splitlines() if line.startswith("skipped: ")]
    if CUDA_AVAILABLE:
        assert summary == []
    else:
        assert len(summary) == 1 and re.fullmatch(r"skipped: \d+ tests? \(needs CuPy and a GPU\)", summary[0])
