"""The benchmark program runs end to end in --quick mode and writes well-formed results.

It asserts nothing about speed: timings belong to benchmarks/, not to unit tests.
"""

import importlib.util
import json

import pytest

from benchmarks.run import SUITES, main


def test_quick_run_writes_every_suite_as_json_and_markdown(tmp_path, capsys):
    results = main(["--quick", "--device", "cpu", "--out", str(tmp_path), "--no-reference", "--memory-steps", "12"])
    printed = capsys.readouterr().out
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(results["rows"]))
    assert {"cpu", "cores", "numpy", "blas"} <= set(saved["machine"])
    suites = {row["suite"] for row in saved["rows"]}
    assert suites == set(SUITES)
    for row in saved["rows"]:
        numbers = [
            v for k, v in row.items() if isinstance(v, float) and k not in ("rss_growth_mib", "peak_above_baseline_mib")
        ]
        assert all(v > 0 for v in numbers), row
    for suite in SUITES:
        assert f"## {suite}" in printed
    ops = [row for row in saved["rows"] if row["suite"] == "ops"]
    assert {row["name"].split(" [")[0] for row in ops} == {
        "linear (matmul)",
        "softmax",
        "log_softmax + cross_entropy",
        "layer_norm",
        "gelu",
        "embedding",
        "attention (causal)",
    }
    if importlib.util.find_spec("matplotlib"):  # plots are an optional extra
        assert (tmp_path / "scaling.png").exists() and (tmp_path / "ops.png").exists()


def test_unknown_suite_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="unknown suite"):
        main(["--suite", "nope", "--out", str(tmp_path)])
