"""The benchmark program runs end to end in --quick mode and writes well-formed results.

It asserts nothing about speed: timings belong to benchmarks/, not to unit tests.
"""

import importlib.util
import json
import os

import pytest

from benchmarks.run import SUITES, main
from benchmarks.target_suites import target_rows


def test_quick_run_writes_every_suite_as_json_and_markdown(tmp_path, capsys):
    results = main(["--quick", "--device", "cpu", "--out", str(tmp_path), "--no-reference", "--memory-steps", "12"])
    printed = capsys.readouterr().out
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(results["rows"]))
    assert {"cpu", "cores", "numpy", "blas"} <= set(saved["machine"])
    suites = {row["suite"] for row in saved["rows"]}
    assert suites == set(SUITES)
    for row in saved["rows"]:
        growth = row["suite"] == "targets" and row["name"].startswith("memory growth")  # 0 or less is fine there
        numbers = [
            v
            for k, v in row.items()
            if isinstance(v, float)
            and k not in ("rss_growth_mib", "heap_growth_mib", "peak_above_baseline_mib")
            and not growth
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
    model = {row["name"]: row for row in saved["rows"] if row["suite"] == "model"}
    assert set(model) == {"tiny", "small"}
    for row in model.values():  # every implementation ran, each in its own worker process
        assert {"ours-lecture_ms", "ours-gpt_ms", "numpy_ms"} <= set(row)
        assert row["lecture_vs_numpy"] == pytest.approx(row["ours-lecture_ms"] / row["numpy_ms"])
    assert len([row for row in saved["rows"] if row["suite"] == "multihead"]) == 4
    targets = [row for row in saved["rows"] if row["suite"] == "targets"]
    assert (tmp_path / "targets.md").read_text().count("\n|") == len(targets) + 2  # header, rule, one line each
    measured = {row["name"] for row in targets if row["figure"] is not None}
    assert "lecture model / hand-written NumPy, small" in measured
    assert (
        "tiny lecture step, one of two cores busy / pinned to one core" in measured or len(os.sched_getaffinity(0)) < 2
    )
    if importlib.util.find_spec("matplotlib"):  # plots are an optional extra
        assert (tmp_path / "scaling.png").exists() and (tmp_path / "ops.png").exists()


def test_unknown_suite_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="unknown suite"):
        main(["--suite", "nope", "--out", str(tmp_path)])


def test_targets_table_judges_each_figure_against_its_limit():
    rows = [
        {"suite": "model", "device": "cpu", "name": "small", "lecture_vs_numpy": 1.2, "gpt_vs_numpy": 1.04},
        {"suite": "multihead", "device": "cpu", "name": "forward [course]", "ver2_vs_ver1": 0.9},
        {"suite": "multihead", "device": "cpu", "name": "forward [medium]", "ver2_vs_ver1": 1.1},
    ]
    verdicts = {row["name"]: row["met"] for row in target_rows(rows)}
    assert verdicts["lecture model / hand-written NumPy, small"] is False
    assert verdicts["project GPT / hand-written NumPy, small"] is True
    assert verdicts["MultiHeadVer2 / MultiHeadVer1, forward [course]"] is True
    assert verdicts["MultiHeadVer2 / MultiHeadVer1, forward [medium]"] is False
    assert verdicts["lecture model / hand-written NumPy, medium"] is None  # not measured: no verdict


def test_the_gpu_targets_take_the_replayed_graph_step_and_the_eager_one():
    rows = [
        {"suite": "model", "device": "cpu", "name": "medium", "ours-lecture_ms": 1000.0},
        {"suite": "model", "device": "cuda", "name": "medium", "ours-lecture_ms": 80.0, "ours-lecture-graph_ms": 25.0},
    ]
    figures = {row["name"]: (row["figure"], row["met"]) for row in target_rows(rows)}
    assert figures["medium lecture step, cpu / cuda"] == (12.5, False)
    assert figures["medium lecture step, cpu / cuda replaying it as a CUDA graph"] == (40.0, True)
    eager_only = {
        row["name"]: row["figure"] for row in target_rows(rows[:1] + [{**rows[1], "ours-lecture-graph_ms": None}])
    }
    assert eager_only["medium lecture step, cpu / cuda replaying it as a CUDA graph"] is None


STAND_IN_SITE = """
import os

if os.environ.get("TINYGRAD_GPT_FAKE_CUPY") == "1":  # this test's worker processes: "cuda" is the CuPy stand-in
    from tests.support import fake_cupy
    from tests.support.fake_cupy_cublas import Library

    fake_cupy.install()
    import tensor.fast.cublas

    tensor.fast.cublas._loaded["library"] = Library()
"""


def test_the_model_suite_on_cuda_replays_each_step_as_a_cuda_graph_in_its_worker(tmp_path, monkeypatch, fake_cuda):
    """`python -m benchmarks --device cuda --suite model` on the stand-in (each worker process loads it through
    a sitecustomize): the eager steps and the steps replayed as CUDA graphs all run, none reported as failed."""
    from benchmarks import suites

    (tmp_path / "sitecustomize.py").write_text(STAND_IN_SITE)
    monkeypatch.setenv("TINYGRAD_GPT_FAKE_CUPY", "1")
    monkeypatch.setenv("TINYGRAD_GPT_KERNELS", "fast")  # the workers capture CUDA graphs: an engine-room device
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    config = {"batch": 2, "block": 8, "n_embd": 16, "n_head": 2, "n_layer": 1, "vocab": 13}
    monkeypatch.setattr(suites, "MODEL_CONFIGS", {"tiny": config, "small": config})
    monkeypatch.setattr(suites, "gemm_peak_gflops", lambda device: 1.0)  # an 8192^2 product on the host: skipped
    rows, _ = suites.model_suite("cuda", quick=True, reference=False)
    assert [row["name"] for row in rows] == ["tiny", "small"]
    for row in rows:
        assert "graph_errors" not in row, row["graph_errors"]
        for implementation in ("ours-lecture", "ours-gpt", "ours-lecture-graph", "ours-gpt-graph"):
            assert row[f"{implementation}_ms"] > 0
