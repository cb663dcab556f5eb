"""`tinygrad-gpt train --kernels reference|fast`: the switch between the textbook and the engine room on the
command line, and the library's independence from the benchmarks above it."""

import re
import subprocess
import sys

from .cli_helpers import ROOT, cli
from .cli_helpers import train as train_cli


def final_validation_loss(stdout):
    return float(re.search(r"final validation loss ([0-9.]+)", stdout).group(1))


def test_train_runs_in_the_mode_asked_for_and_both_modes_train_alike(tmp_path):
    runs = {}
    for mode in ("reference", "fast"):
        result = train_cli(tmp_path, "--kernels", mode, "--seed", "3", out=f"run-{mode}")
        assert result.returncode == 0, result.stderr
        assert f"kernels {mode}" in result.stdout
        runs[mode] = final_validation_loss(result.stdout)
    assert abs(runs["reference"] - runs["fast"]) < 1e-3  # the same steps, within float32 round-off


def test_a_bad_kernels_value_is_an_error_naming_the_allowed_ones(tmp_path):
    result = cli(tmp_path, "train", "--kernels", "turbo", "--out", "run")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--kernels" in result.stderr and "'reference'" in result.stderr and "'fast'" in result.stderr
    assert not (tmp_path / "run").exists()


def test_the_library_imports_nothing_of_the_benchmarks():
    program = "import sys, tinygrad_gpt.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'benchmarks'))"
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
