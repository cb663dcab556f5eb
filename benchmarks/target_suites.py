"""The suites behind issue 12's targets, and the table that checks every target from one run.

multihead  MultiHeadVer1 (a loop of heads) against MultiHeadVer2 (all heads in one product)
load       a tiny lecture step with one of two cores busy, against the same step pinned to one core
memory     peak memory of a training step, each implementation in a fresh process, and its growth
targets    every target's figure, limit and verdict, from the rows of the suites above and the model suite
"""

import os
import subprocess
import sys
import time

import tensor
from tinygrad_gpt import MultiHeadVer1, MultiHeadVer2

from .measure import interleaved_medians
from .suites import MODEL_CONFIGS
from .worker import Worker

# ----- MultiHeadVer1 against MultiHeadVer2 ---------------------------------------------------------------

MULTIHEAD_SIZES = {"course": (32, 64, 512, 8), "medium": (32, 128, 256, 8)}  # (batch, block, n_embd, heads)


def _multihead_runs(module, x, upstream):
    def forward():
        module(x)

    def forward_backward():
        for p in module.parameters():
            p.grad = None
        module(x).backward(upstream)

    return forward, forward_backward


def multihead_suite(device, quick):
    """Time per call of each version, forward (recording the graph, as in training) and forward + backward."""
    rows = []
    for size, (B, T, C, H) in MULTIHEAD_SIZES.items():
        B = 4 if quick else B
        tensor.manual_seed(0)
        x = tensor.randn(B, T, C, device=device)
        upstream = tensor.randn(B, T, C, device=device)
        versions = {"ver1": MultiHeadVer1(T, C, H).to(device), "ver2": MultiHeadVer2(T, C, H).to(device)}
        runs = {name: _multihead_runs(module, x, upstream) for name, module in versions.items()}
        for mode, index in (("forward", 0), ("forward+backward", 1)):
            times = interleaved_medians(
                {name: run[index] for name, run in runs.items()}, repeats=2 if quick else 7, warmup=1, device=device
            )
            rows.append(
                {
                    "suite": "multihead",
                    "device": device,
                    "name": f"{mode} [{size}: B {B}, T {T}, C {C}, {H} heads]",
                    "ver1_ms": times["ver1"] * 1e3,
                    "ver2_ms": times["ver2"] * 1e3,
                    "ver2_vs_ver1": times["ver2"] / times["ver1"],
                }
            )
    return rows


# ----- under load ---------------------------------------------------------------------------------------------


def _spinner(cpus):
    """A process that keeps one core busy (as another user's program would), free to run on `cpus`."""
    code = f"import os; os.sched_setaffinity(0, {set(cpus)!r})\nwhile True: pass"
    return subprocess.Popen([sys.executable, "-c", code])


def load_suite(quick, reference):
    """A tiny lecture step on two cores while another process spins on one of them, against the
    same step pinned to one core and alone: the ratio says what oversubscribing the free core costs."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return []
    two_cores, one_core = allowed[:2], allowed[:1]
    rows = []
    for implementation in ["ours-lecture"] + (["torch-lecture"] if reference else []):
        rounds, steps = (2, 3) if quick else (5, 10)
        samples = {"busy": [], "pinned": []}
        with (
            Worker(implementation, MODEL_CONFIGS["tiny"], cpus=two_cores) as on_two,
            Worker(implementation, MODEL_CONFIGS["tiny"], cpus=one_core) as on_one,
        ):
            for _ in range(rounds):
                spinner = _spinner(two_cores)
                try:
                    time.sleep(0.3)
                    samples["busy"] += on_two.time_steps(steps)
                finally:
                    spinner.kill()
                    spinner.wait()
                time.sleep(0.2)
                samples["pinned"] += on_one.time_steps(steps)
        busy, pinned = (sorted(samples[k])[len(samples[k]) // 2] for k in ("busy", "pinned"))
        rows.append(
            {
                "suite": "load",
                "device": "cpu",
                "name": f"tiny step, {implementation}",
                "busy_core_ms": busy * 1e3,
                "pinned_one_core_ms": pinned * 1e3,
                "busy_vs_pinned": busy / pinned,
            }
        )
    return rows


# ----- memory -------------------------------------------------------------------------------------------------


def memory_suite(quick, reference, steps):
    """Peak memory (VmHWM) of `steps` training steps, each implementation in a fresh process;
    the medium config (tiny with --quick)."""
    config = "tiny" if quick else "medium"
    implementations = ["ours-lecture", "ours-gpt", "numpy"] + (["torch-lecture"] if reference else [])
    probes = {}
    for implementation in implementations:
        with Worker(implementation, MODEL_CONFIGS[config], warmup=0) as worker:
            probes[implementation] = worker.memory(steps)
    return [
        {
            "suite": "memory",
            "device": "cpu",
            "name": f"{config}, {steps} steps, {implementation}",
            "implementation": implementation,
            "config": config,
            "steps": steps,
            **probe,
            "peak_vs_numpy": probe["peak_rss_mib"] / probes["numpy"]["peak_rss_mib"],
        }
        for implementation, probe in probes.items()
    ]


# ----- the targets ----------------------------------------------------------------------------------------


def _find(rows, suite, device="cpu", **fields):
    for row in rows:
        if row["suite"] == suite and row["device"] == device and all(row.get(k) == v for k, v in fields.items()):
            return row
    return None


def _check(target, figure, limit, passes, why_missing="not measured in this run"):
    return {
        "suite": "targets",
        "device": "cpu",
        "name": target,
        "figure": figure,
        "limit": limit,
        "met": None if figure is None else bool(passes(figure)),
        "note": why_missing if figure is None else "",
    }


def target_rows(rows):
    """Issue 12's targets, each with its figure from `rows` (None where this run did not measure it)."""
    out = []
    for config in ("small", "medium"):
        model = _find(rows, "model", name=config) or {}
        out.append(
            _check(
                f"lecture model / hand-written NumPy, {config}",
                model.get("lecture_vs_numpy"),
                "≤ 1.10",
                lambda f: f <= 1.10,
            )
        )
        out.append(
            _check(
                f"project GPT / hand-written NumPy, {config}", model.get("gpt_vs_numpy"), "≤ 1.05", lambda f: f <= 1.05
            )
        )
    load = _find(rows, "load", name="tiny step, ours-lecture") or {}
    out.append(
        _check(
            "tiny lecture step, one of two cores busy / pinned to one core",
            load.get("busy_vs_pinned"),
            "≤ 1.3",
            lambda f: f <= 1.3,
        )
    )
    for config, limit in (("tiny", 0.8), ("small", 1.2), ("medium", 1.1)):
        model = _find(rows, "model", name=config) or {}
        out.append(
            _check(
                f"lecture model, ours / PyTorch, {config}",
                model.get("lecture_vs_torch"),
                f"≤ {limit}",
                lambda f, limit=limit: f <= limit,
                "needs PyTorch and this config (not in --quick for medium)",
            )
        )
    for row in (r for r in rows if r["suite"] == "multihead" and r["device"] == "cpu"):
        out.append(_check(f"MultiHeadVer2 / MultiHeadVer1, {row['name']}", row["ver2_vs_ver1"], "< 1", lambda f: f < 1))
    for implementation in ("ours-lecture", "ours-gpt"):
        memory = _find(rows, "memory", implementation=implementation) or {}
        where = f"{memory.get('config', 'medium')}, {implementation}"
        out.append(
            _check(
                f"peak memory / hand-written NumPy's, {where}", memory.get("peak_vs_numpy"), "≤ 1.3", lambda f: f <= 1.3
            )
        )
        growth = _check(
            f"memory growth (MiB) from step 10 to step {memory.get('steps')}, {where}",
            memory.get("rss_growth_mib"),
            "≤ 1% of peak",
            lambda f, memory=memory: f <= 0.01 * memory["peak_rss_mib"],
        )
        if memory.get("heap_growth_mib") is not None:  # tells a leak from malloc's heap settling (measure.py)
            growth["note"] = f"memory the program holds (malloc's in use): {memory['heap_growth_mib']:+.2f} MiB"
        out.append(growth)
    cuda, cpu = _find(rows, "model", device="cuda", name="medium"), _find(rows, "model", name="medium")
    speedup = cpu["ours-lecture_ms"] / cuda["ours-lecture_ms"] if cuda and cpu else None
    out.append(_check("medium lecture step, cpu / cuda", speedup, "≥ 20", lambda f: f >= 20, "needs a GPU"))
    graphed = cuda and cuda.get("ours-lecture-graph_ms")
    speedup = cpu["ours-lecture_ms"] / graphed if graphed and cpu else None
    out.append(
        _check(
            "medium lecture step, cpu / cuda replaying it as a CUDA graph",
            speedup,
            "≥ 20",
            lambda f: f >= 20,
            "needs a GPU",
        )
    )
    out.append(
        _check(
            "medium lecture step on cuda, ours / PyTorch",
            cuda and cuda.get("lecture_vs_torch"),
            "≤ 2",
            lambda f: f <= 2,
            "needs a GPU and PyTorch",
        )
    )
    out.append(
        _check(
            "host-device synchronisations per step (besides the loss)",
            None,
            "≤ 3",
            bool,
            "python -m benchmarks.host_syncs counts them on a GPU (H100: 2 per step)",
        )
    )
    return out
