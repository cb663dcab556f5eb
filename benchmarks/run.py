"""`python -m benchmarks`: run the suites, print markdown tables, write results.json and plots."""

import argparse
import json
import os
import sys
import tempfile

import tensor

from . import suites, target_suites
from .measure import machine_header

SUITES = ("ops", "model", "multihead", "load", "memory", "scaling", "generation", "targets")
TARGET_SUITES = ("model", "multihead", "load", "memory")  # what --suite targets runs, before its table


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time fused against composed ops, GPT training steps, scaling and generation, "
        "on CPU and GPU, against PyTorch where it is installed.",
        epilog="Two more programs: `python -m benchmarks reading-path` (the library lines one training step runs, "
        "per kernels mode) and `python -m benchmarks ladder` (step time from reference mode through each "
        "engine-room device to fast mode); each takes --help.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (under two minutes on 2 cores)")
    parser.add_argument(
        "--device", default=None, help='comma-separated devices (default: "cpu" plus "cuda" when available)'
    )
    parser.add_argument(
        "--suite",
        default=",".join(SUITES),
        help=f"comma-separated suites from {', '.join(SUITES)} (default: all); "
        f"targets runs {', '.join(TARGET_SUITES)} and checks issue 12's targets",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="folder for results.json and the plots (default: benchmarks/results; with --quick a new temporary "
        "folder, so a quick run never replaces the tracked results)",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip PyTorch even if it is installed")
    parser.add_argument(
        "--memory-steps",
        type=int,
        default=None,
        help="steps in the memory probe (default: 200, 20 with --quick; issue 12 asks for 1000)",
    )
    return parser


def _torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _format(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def markdown_table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_format(row.get(column)) for column in columns) + " |")
    return "\n".join(lines)


TABLE_COLUMNS = {
    "ops": ["device", "name", "fused_ms", "composed_ms", "speedup", "throughput", "unit"],
    "model": [
        "device",
        "name",
        "ours-lecture_ms",
        "ours-gpt_ms",
        "numpy_ms",
        "torch-lecture_ms",
        "torch-gpt_ms",
        "lecture_vs_numpy",
        "gpt_vs_numpy",
        "lecture_vs_torch",
        "numpy_vs_torch",
        "gpt_vs_torch_gpt",
        "tokens_per_s",
        "gemm_peak_fraction",
        "matmul_ms",
        "torch_matmul_ms",
    ],
    "multihead": ["device", "name", "ver1_ms", "ver2_ms", "ver2_vs_ver1"],
    "load": ["device", "name", "busy_core_ms", "pinned_one_core_ms", "busy_vs_pinned"],
    "memory": [
        "device",
        "name",
        "peak_rss_mib",
        "peak_above_baseline_mib",
        "rss_growth_mib",
        "heap_growth_mib",
        "peak_vs_numpy",
    ],
    "scaling": ["device", "name", "step_ms", "fitted_exponent"],
    "generation": ["device", "name", "tokens_per_s_cache", "tokens_per_s_no_cache", "speedup"],
    "targets": ["name", "figure", "limit", "met", "note"],
}


def add_device_speedups(rows):
    """Where a row was measured on both devices, record the GPU's speed-up over the CPU."""
    timing = {"ops": "fused_ms", "model": "ours-gpt_ms", "scaling": "step_ms"}
    by_key = {(r["suite"], r["name"], r["device"]): r for r in rows}
    for row in rows:
        column = timing.get(row["suite"])
        cpu_row = by_key.get((row["suite"], row["name"], "cpu"))
        if column and row["device"] == "cuda" and cpu_row:
            row["cuda_speedup_vs_cpu"] = cpu_row[column] / row[column]


def plot(rows, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plots)")
        return []
    paths = []
    scaling = [r for r in rows if r["suite"] == "scaling"]
    if scaling:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, knob in zip(axes, ("block_size", "n_layer")):
            for device in sorted({r["device"] for r in scaling}):
                points = [r for r in scaling if r["knob"] == knob and r["device"] == device]
                ax.loglog(
                    [p["x"] for p in points],
                    [p["step_ms"] for p in points],
                    "o-",
                    label=f"{device} (slope {points[0]['fitted_exponent']:.2f})",
                )
            values = sorted({r["x"] for r in scaling if r["knob"] == knob})
            ax.set_xticks(values, [str(v) for v in values])
            ax.minorticks_off()
            ax.set_xlabel(knob)
            ax.set_ylabel("training step (ms)")
            ax.legend()
            ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        paths.append(os.path.join(out, "scaling.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    ops = [r for r in rows if r["suite"] == "ops"]
    if ops:
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(ops) + 1))
        labels = [f"{r['name']} ({r['device']})" for r in ops]
        ax.barh(labels, [r["speedup"] for r in ops])
        ax.axvline(1, color="black", lw=0.8)
        ax.set_xlabel("fused speed-up over composed (x)")
        fig.tight_layout()
        paths.append(os.path.join(out, "ops.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def main(argv=None):
    args = build_parser().parse_args(argv)
    devices = args.device.split(",") if args.device else ["cpu"] + (["cuda"] if tensor.cuda.is_available() else [])
    for device in devices:
        tensor.backend.normalize_device(device)
        if device == "cuda" and not tensor.cuda.is_available():
            raise SystemExit("error: --device cuda asked for, but CuPy or a GPU is missing")
    chosen = args.suite.split(",")
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        raise SystemExit(f"error: unknown suite(s) {unknown}; choose from {SUITES}")
    if "targets" in chosen:
        chosen += TARGET_SUITES
    tensor.backend.tune_malloc()  # as the command line does: see tensor.backend.tune_malloc
    reference = _torch_available() and not args.no_reference
    if args.out is None:
        args.out = (
            tempfile.mkdtemp(prefix="tinygrad-gpt-bench-") if args.quick else os.path.join("benchmarks", "results")
        )
    os.makedirs(args.out, exist_ok=True)
    header = machine_header(devices)
    print("# tinygrad_gpt benchmarks\n")
    print("\n".join(f"- {k}: {v}" for k, v in header.items()))
    print(f"- command: python -m benchmarks {' '.join(argv if argv is not None else sys.argv[1:])}\n")
    rows, peaks = [], {}
    for device in devices:
        if "ops" in chosen:
            rows += suites.ops_suite(device, args.quick)
        if "model" in chosen:
            model_rows, peaks[device] = suites.model_suite(device, args.quick, reference)
            rows += model_rows
        if "multihead" in chosen:
            rows += target_suites.multihead_suite(device, args.quick)
        if "scaling" in chosen:
            rows += suites.scaling_suite(device, args.quick)
        if "generation" in chosen:
            rows += suites.generation_suite(device, args.quick)
    if "load" in chosen:
        rows += target_suites.load_suite(args.quick, reference)
    if "memory" in chosen:
        rows += target_suites.memory_suite(args.quick, reference, args.memory_steps or (20 if args.quick else 200))
    add_device_speedups(rows)
    if "targets" in chosen:
        rows += target_suites.target_rows(rows)
    for suite in SUITES:
        suite_rows = [r for r in rows if r["suite"] == suite]
        if suite_rows:
            optional = ["ours-lecture-graph_ms", "ours-gpt-graph_ms", "lecture_graph_vs_torch", "cuda_speedup_vs_cpu"]
            optional += ["ours-lecture-compiled_ms", "ours-gpt-compiled_ms", "lecture_compiled_vs_torch"]
            optional += ["gpt_compiled_vs_numpy"]  # tensor.compile's rows (issue 30)
            columns = TABLE_COLUMNS[suite] + [c for c in optional if any(r.get(c) is not None for r in suite_rows)]
            table = markdown_table(suite_rows, columns)
            print(f"## {suite}\n\n{table}\n")
            if suite == "targets":
                with open(os.path.join(args.out, "targets.md"), "w") as file:
                    file.write(f"# Issue 12's targets, {header['date']}\n\n{table}\n")
    if peaks:
        print("measured float32 GEMM peak (GFLOP/s): " + ", ".join(f"{d} {p:.1f}" for d, p in peaks.items()) + "\n")
    results = {"machine": header, "gemm_peak_gflops": peaks, "rows": rows}
    with open(os.path.join(args.out, "results.json"), "w") as file:
        json.dump(results, file, indent=1)
    paths = plot(rows, args.out)
    print(f"wrote {os.path.join(args.out, 'results.json')}" + (f" and {', '.join(paths)}" if paths else ""))
    return results
