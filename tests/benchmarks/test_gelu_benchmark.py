"""`python -m benchmarks.gelu` times GELU forward + backward on each side in its own process and prints a row
per form and side, with the ratio to PyTorch."""

import pytest

from benchmarks import gelu


def test_the_gelu_benchmark_prints_every_form_and_side_with_ratios_to_pytorch(capsys):
    pytest.importorskip("torch")
    gelu.main(["--rounds", "1", "--calls", "1", "--shape", "4,8"])
    rows = [
        line.split(" | ")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("| none") or line.startswith("| tanh")
    ]
    assert [(r[0], r[1]) for r in rows] == [(f"| {form}", side) for form in ("none", "tanh") for side in gelu.SIDES]
    assert all(float(r[5].rstrip(" |")) > 0 for r in rows)
    assert [r[5].rstrip(" |") for r in rows if r[1] == "torch"] == ["1.00", "1.00"]
