"""`python -m benchmarks reading-path`: the library lines a learner reads to follow one training step.

One step of the lecture GPT (benchmarks/lecture_model.py: forward to the loss, zero_grad, backward,
AdamW's update), after a warm-up step, runs under sys.settrace; every distinct line executed in a file
of the library (tensor/, nn/, tinygrad_gpt/) is counted, per file. Each kernels mode runs in a process
of its own, so nothing the other mode imported or set up is counted. The table shows what the
textbook (reference mode) asks a reader to follow, and how much the engine room (fast/) adds.
"""

import argparse
import json
import os
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = ("tensor", "nn", "tinygrad_gpt")
MODES = ("reference", "fast")
TINY = {"batch": 4, "block": 16, "n_embd": 32, "n_head": 2, "n_layer": 2, "vocab": 65}


def _library_file(path):
    """path relative to the checkout when it is a file of the library, else None."""
    relative = os.path.relpath(path, ROOT)
    return relative if relative.split(os.sep)[0] in LIBRARY else None


def _lines_of_one_step(config):
    """{library file: sorted lines} executed by one step after a warm-up step, in this process's mode."""
    from .implementations import make_step

    step = make_step("ours-lecture", config)
    seen, recording, files = set(), [False], {}

    def trace_lines(frame, event, arg):
        if event == "line":
            seen.add((frame.f_code.co_filename, frame.f_lineno))
        return trace_lines

    def trace_calls(frame, event, arg):
        if not recording[0]:
            return None
        filename = frame.f_code.co_filename
        if filename not in files:
            files[filename] = _library_file(filename)
        return trace_lines if files[filename] else None

    threading.settrace(trace_calls)  # threads the engine room starts (its second thread) are traced too
    step()  # warm-up: imports, first-call set-up and the optimizer's state are not the step
    recording[0] = True
    sys.settrace(trace_calls)
    try:
        step()
    finally:
        sys.settrace(None)
        threading.settrace(None)
        recording[0] = False
    lines = {}
    for filename, line in seen:
        lines.setdefault(files[filename], set()).add(line)
    return {name: sorted(numbers) for name, numbers in sorted(lines.items())}


def lines_of_one_step(mode, config=TINY):
    """{library file: executed lines} of one step in kernels mode `mode`, measured in a new process."""
    env = {**os.environ, "TINYGRAD_GPT_KERNELS": mode}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benchmarks.reading_path", "--child", json.dumps(config)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"the reading path in {mode} mode failed:\n{result.stderr}")
    return json.loads(result.stdout)


def under_fast(path):
    return "fast" in path.split(os.sep)[:-1]


def table(counts):
    """A markdown table of lines per file, one column per mode, with totals and the count under fast/."""
    modes = list(counts)
    files = sorted({f for lines in counts.values() for f in lines})
    rows = ["| file | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes)]
    for f in files:
        rows.append(f"| {f} | " + " | ".join(str(len(counts[m].get(f, ()))) for m in modes) + " |")
    total = [sum(len(lines) for lines in counts[m].values()) for m in modes]
    fast = [sum(len(lines) for f, lines in counts[m].items() if under_fast(f)) for m in modes]
    rows.append("| **total** | " + " | ".join(f"**{n}**" for n in total) + " |")
    rows.append("| of which under fast/ | " + " | ".join(str(n) for n in fast) + " |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks reading-path", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", default=json.dumps(TINY), help=f"the lecture GPT's config as JSON (default: {json.dumps(TINY)})"
    )
    parser.add_argument("--mode", default=",".join(MODES), help="comma-separated kernels modes (default: both)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)  # the process that measures one mode
    parser.add_argument("--lines", action="store_true", help="also list the line numbers of each file")
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_lines_of_one_step(json.loads(args.child))))
        return None
    modes = args.mode.split(",")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise SystemExit(f"error: unknown kernels mode(s) {unknown}; choose from {', '.join(MODES)}")
    counts = {mode: lines_of_one_step(mode, json.loads(args.config)) for mode in modes}
    print(f"## Reading path: distinct library lines one training step runs (config {args.config})\n")
    print(table(counts) + "\n")
    if args.lines:
        for mode, lines in counts.items():
            for f, numbers in lines.items():
                print(f"{mode} {f}: {' '.join(map(str, numbers))}")
    return counts


if __name__ == "__main__":
    main()
