"""`python -m benchmarks programs`: the wall time of real programs learners port, with PyTorch and with ours.

    python -m benchmarks programs --nanogpt ~/src/nanoGPT --lecture ~/src/ng-video-lecture \\
        [--makemore ~/src/makemore] [--mingpt ~/src/minGPT] --data input.txt [--steps 300] [--rounds 3] [--profile]

Each program (benchmarks/program_specs.py) is copied from its checkout into a folder of its own per framework,
shortened by its documented patch (the same text for both), and, for ours, its imports rewritten as the design
maps them (`rewrite_imports`); nothing else changes. Each run is a fresh process (`python ENTRY ARGS` in that
folder), timed from outside from start to exit, so imports, data preparation, evaluations and the sample count
as a learner waits for them. PyTorch's and our runs alternate, a program's two runs side by side, over several
rounds, and the table gives each framework's median time and the median and spread of the per-round ratios.
A program that fails (with either framework) is reported with the last line of its error and skipped.

--profile then runs each program once more per framework under a profiler (ours: tensor.profile, each op's
forward and backward; PyTorch's: torch.profiler, each op's self CPU time) and prints the top ops by share of
the run, side by side, so the next gap is visible.
"""

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time

from .program_specs import PROGRAMS

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORKS = ("torch", "ours")

# How a learner's imports map (docs: the design notes): torch -> tensor, torch.nn -> nn, submodules included.
IMPORT_RULES = [
    (r"^([ \t]*)import torch\.nn\.functional as (\w+)[ \t]*$", r"\1import nn.functional as \2"),
    (r"^([ \t]*)import torch\.nn as nn[ \t]*$", r"\1import nn"),
    (r"^([ \t]*)import torch\.nn as (\w+)[ \t]*$", r"\1import nn as \2"),
    (r"^([ \t]*)from torch\.nn import functional as (\w+)[ \t]*$", r"\1import nn.functional as \2"),
    (r"^([ \t]*)from torch import nn[ \t]*$", r"\1import nn"),
    (r"^([ \t]*)from torch\.nn((?:\.\w+)*) import ", r"\1from nn\2 import "),
    (r"^([ \t]*)from torch((?:\.\w+)*) import ", r"\1from tensor\2 import "),
    (r"^([ \t]*)import torch((?:\.\w+)+) as (\w+)[ \t]*$", r"\1import tensor\2 as \3"),
    (r"^([ \t]*)import torch[ \t]*$", r"\1import tensor as torch"),
]
BINDS_NN = re.compile(r"^[ \t]*import nn(\s+as\s+nn)?[ \t]*$", re.MULTILINE)  # a module-level name nn, bound to ours


def rewrite_imports(source):
    """The program's source with PyTorch's imports mapped to ours: `import torch` -> `import tensor as torch`,
    `torch.nn` -> `nn` (in imports and in attribute paths such as torch.nn.init.normal_, importing nn where the
    file does not), every other `torch.X` -> `tensor.X`."""
    for pattern, replacement in IMPORT_RULES:
        source = re.sub(pattern, replacement, source, flags=re.MULTILINE)
    if re.search(r"\btorch\.nn\b", source):
        source = re.sub(r"\btorch\.nn\b", "nn", source)
        if not BINDS_NN.search(source):
            import_torch = r"^([ \t]*)import tensor as torch$"
            source = re.sub(import_torch, r"\1import tensor as torch\n\1import nn", source, count=1, flags=re.M)
    left = [line for line in source.splitlines() if re.match(r"\s*(import|from)\s+torch\b", line)]
    if left:
        raise ValueError(f"imports left unmapped: {left}")
    return source


def apply_patches(source, patches, settings, filename):
    """source with each (text, replacement) of patches applied; a text must occur exactly once.
    Replacements may name $steps, $eval_interval, $eval_iters and $sample_tokens."""
    for text, replacement in patches:
        count = source.count(text)
        if count != 1:
            raise ValueError(f"{filename}: the shortening patch expects {text!r} once, found it {count} times")
        source = source.replace(text, string.Template(replacement).substitute(settings))
    return source


def prepare(program, checkout, framework, settings, data, folder):
    """Write `program` as `framework` runs it into folder: its files from checkout, patched, (ours) rewritten."""
    os.makedirs(folder, exist_ok=True)
    texts = {}
    for source, target in program.files.items():
        path = os.path.join(checkout, source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{program.name}: {path} not found (is {checkout} a checkout of it?)")
        with open(path, encoding="utf-8") as file:
            texts[target] = file.read()
    for target, text in program.written.items():
        texts[target] = string.Template(text).substitute(settings)
    for target, patches in program.patches.items():
        texts[target] = apply_patches(texts[target], patches, settings, target)
    for target, text in texts.items():
        if framework == "ours" and target.endswith(".py"):
            text = rewrite_imports(text)
        os.makedirs(os.path.dirname(os.path.join(folder, target)) or folder, exist_ok=True)
        with open(os.path.join(folder, target), "w", encoding="utf-8") as file:
            file.write(text)
    if program.data_as is not None:
        if data is None:
            raise ValueError(f"{program.name} reads a text file: give one with --data")
        shutil.copyfile(data, os.path.join(folder, program.data_as))
    return [string.Template(a).substitute(settings) for a in program.args]


def environment(framework):
    """The run's environment: ours finds this repository's packages; PyTorch's run does not see them."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != REPOSITORY]
    if framework == "ours":
        paths.insert(0, REPOSITORY)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_once(folder, entry, args, framework, timeout):
    """(seconds from start to exit, CPU seconds, stdout) of `python entry args` in folder; RuntimeError if it
    fails. The CPU seconds (user + system, every thread) tell a run slowed by a busy machine from a slow one."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, entry, *args],
        cwd=folder,
        env=environment(framework),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(f"{framework}: {lines[-1]}")
    return seconds, cpu, done.stdout


def final_loss(stdout, pattern):
    matches = re.findall(pattern, stdout)
    return float(matches[-1]) if matches else None


def measure(programs, checkouts, settings, data, rounds, workdir, timeout=3600, pause=1.0, log=print):
    """{key: {"name", "seconds": {framework: [...]}, "loss": {framework: last}, "error"}} for programs
    ({key: Program}) from checkouts ({key: path}), the programs' two runs alternating (PyTorch first in even
    rounds, ours first in odd ones), round after round."""
    results, ready = {}, {}
    for key, program in programs.items():
        results[key] = {
            "name": program.name,
            "seconds": {f: [] for f in FRAMEWORKS},
            "cpu_seconds": {f: [] for f in FRAMEWORKS},
            "loss": {},
            "error": None,
        }
        try:
            folders = {f: os.path.join(workdir, re.sub(r"\W+", "_", key), f) for f in FRAMEWORKS}
            args = {f: prepare(program, checkouts[key], f, settings, data, folders[f]) for f in FRAMEWORKS}
            ready[key] = (program, folders, args)
        except (OSError, ValueError) as error:
            results[key]["error"] = str(error)
    for round_ in range(rounds):
        for key, (program, folders, args) in ready.items():
            if results[key]["error"]:
                continue
            for framework in FRAMEWORKS if round_ % 2 == 0 else FRAMEWORKS[::-1]:
                time.sleep(pause)  # the other framework's idle threads stop spinning first
                try:
                    seconds, cpu, stdout = run_once(
                        folders[framework], program.entry, args[framework], framework, timeout
                    )
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    results[key]["error"] = str(error).splitlines()[-1]
                    break
                results[key]["seconds"][framework].append(seconds)
                results[key]["cpu_seconds"][framework].append(cpu)
                results[key]["loss"][framework] = final_loss(stdout, program.loss_pattern)
                log(f"round {round_ + 1}/{rounds}: {key} {framework} {seconds:.1f} s ({cpu:.1f} CPU s)")
    return results


def ratio_rows(results):
    """One row per program: median seconds of each framework, the median, lowest and highest per-round ratio."""
    rows = []
    for result in results.values():
        torch_s, ours_s = result["seconds"]["torch"], result["seconds"]["ours"]
        ratios = [o / t for t, o in zip(torch_s, ours_s)]
        row = {"program": result["name"], "rounds": len(ratios), "error": result["error"]}
        if ratios:
            row.update(
                torch_s=statistics.median(torch_s[: len(ratios)]),
                ours_s=statistics.median(ours_s[: len(ratios)]),
                ratio=statistics.median(ratios),
                spread=(min(ratios), max(ratios)),
            )
        row["torch_loss"], row["ours_loss"] = result["loss"].get("torch"), result["loss"].get("ours")
        rows.append(row)
    return rows


def _number(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def markdown_table(rows):
    lines = [
        "| program | rounds | PyTorch s | ours s | ours / PyTorch | spread | final loss PyTorch / ours | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        spread = f"{row['spread'][0]:.2f}-{row['spread'][1]:.2f}" if "spread" in row else "-"
        note = f"skipped: {row['error']}" if row["error"] else ""
        if row["error"] and row["rounds"]:
            note = f"stopped after {row['rounds']} round(s): {row['error']}"
        lines.append(
            f"| {row['program'].replace('|', '/')} | {row['rounds']} | {_number(row.get('torch_s'), 1)} | {_number(row.get('ours_s'), 1)}"
            f" | {_number(row.get('ratio'))} | {spread} | {_number(row['torch_loss'], 3)} / {_number(row['ours_loss'], 3)}"
            f" | {note.replace('|', '/')} |"
        )
    return "\n".join(lines)


# ----- --profile: the top ops of one run of each ------------------------------------------------------------

PROFILER = '''"""Run the program under its framework's profiler; write the ops' seconds and the run's as JSON."""
import json, runpy, sys, time

framework, entry, out = sys.argv[1:4]
sys.argv = [entry] + sys.argv[4:]
sys.path.insert(0, ".")
if framework == "ours":
    import nn  # before the profile starts: it times the Function classes defined when it starts
    import tensor

    with tensor.profile() as profiler:
        started = time.perf_counter()
        runpy.run_path(entry, run_name="__main__")
        total = time.perf_counter() - started
    ops = {name: forward + backward for name, (calls, forward, backward) in profiler.records.items()}
else:
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        started = time.perf_counter()
        runpy.run_path(entry, run_name="__main__")
        total = time.perf_counter() - started
    ops = {event.key: event.self_cpu_time_total / 1e6 for event in profiler.key_averages()}
json.dump({"total": total, "ops": ops}, open(out, "w"))
'''


def profile_program(folder, entry, args, framework, timeout):
    """{"total": seconds, "ops": {op: seconds}} of one profiled run of the prepared program in folder."""
    with open(os.path.join(folder, "_profile_run.py"), "w") as file:
        file.write(PROFILER)
    out = os.path.join(folder, "_profile.json")
    done = subprocess.run(
        [sys.executable, "_profile_run.py", framework, entry, out, *args],
        cwd=folder,
        env=environment(framework),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{framework} (profiled): {(done.stderr or 'failed').strip().splitlines()[-1]}")
    with open(out) as file:
        return json.load(file)


OUTSIDE = "outside ops (Python, graph, optimizer, data)"


def top_ops(profile, count):
    """[(op, share of the run)] of the `count` largest, then the time outside them all ("outside ops")."""
    total = profile["total"]
    ranked = sorted(profile["ops"].items(), key=lambda item: -item[1])
    rows = [(name, seconds / total) for name, seconds in ranked[:count]]
    rows.append((OUTSIDE, max(0.0, 1 - sum(profile["ops"].values()) / total)))
    return rows


def profile_table(name, profiles, count=12):
    """Markdown: the top ops of our run and of PyTorch's side by side, each as a share of its run's time."""
    ours, theirs = top_ops(profiles["ours"], count), top_ops(profiles["torch"], count)
    lines = [
        f"### {name}: top ops (ours {profiles['ours']['total']:.1f} s, PyTorch {profiles['torch']['total']:.1f} s)",
        "",
        "| rank | ours: op (forward + backward) | share | PyTorch: op (self CPU) | share |",
        "|---|---|---|---|---|",
    ]
    for rank in range(max(len(ours), len(theirs))):
        a = ours[rank] if rank < len(ours) else ("", None)
        b = theirs[rank] if rank < len(theirs) else ("", None)
        cells = [f"{share:.1%}" if share is not None else "" for share in (a[1], b[1])]
        lines.append(f"| {rank + 1} | {a[0]} | {cells[0]} | {b[0]} | {cells[1]} |")
    return "\n".join(lines)


# ----- the command line ---------------------------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks programs",
        description="Wall time of real programs learners port (checkouts given by path), PyTorch against ours.",
    )
    for key, program in PROGRAMS.items():
        parser.add_argument(f"--{key}", metavar="PATH", help=f"a checkout of {program.name}")
    parser.add_argument("--data", help="the text file the character-level programs train on (e.g. tinyshakespeare)")
    parser.add_argument("--steps", type=int, default=300, help="training steps of each program (default 300)")
    parser.add_argument("--eval-interval", type=int, default=None, help="steps between evaluations (default steps/2)")
    parser.add_argument("--eval-iters", type=int, default=20, help="batches per evaluation (default 20)")
    parser.add_argument("--sample-tokens", type=int, default=200, help="characters in the sample (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of runs, both frameworks each (default 3)")
    parser.add_argument("--profile", action="store_true", help="then profile one run of each: top ops, both sides")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one run may take (default 3600)")
    parser.add_argument("--out", help="folder for programs.md and programs.json (default: print only)")
    parser.add_argument("--keep", action="store_true", help="keep the prepared run folders (printed)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    checkouts = {key: getattr(args, key) for key in PROGRAMS if getattr(args, key)}
    if not checkouts:
        raise SystemExit(f"error: name at least one checkout ({', '.join('--' + k for k in PROGRAMS)})")
    settings = {
        "steps": args.steps,
        "eval_interval": args.eval_interval or max(1, args.steps // 2),
        "eval_iters": args.eval_iters,
        "sample_tokens": args.sample_tokens,
    }
    workdir = tempfile.mkdtemp(prefix="tinygrad-gpt-programs-")
    try:
        programs = {key: PROGRAMS[key] for key in checkouts}
        results = measure(programs, checkouts, settings, args.data, args.rounds, workdir, args.timeout)
        table = markdown_table(ratio_rows(results))
        header = (
            f"## programs: {args.steps} steps, evaluations every {settings['eval_interval']} "
            f"({args.eval_iters} batches), a {args.sample_tokens}-character sample, {args.rounds} rounds\n"
        )
        print(f"\n{header}\n{table}\n")
        profiles = []
        if args.profile:
            for key, result in results.items():
                if result["error"]:
                    continue
                program, folder = programs[key], os.path.join(workdir, key)
                try:
                    runs = {}
                    for f in FRAMEWORKS:
                        run_args = prepare(program, checkouts[key], f, settings, args.data, os.path.join(folder, f))
                        runs[f] = profile_program(os.path.join(folder, f), program.entry, run_args, f, args.timeout)
                    profiles.append(profile_table(program.name, runs))
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    profiles.append(f"### {program.name}: not profiled ({error})")
                print(profiles[-1] + "\n")
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "programs.md"), "w") as file:
                file.write("\n\n".join([header + "\n" + table, *profiles]) + "\n")
            with open(os.path.join(args.out, "programs.json"), "w") as file:
                json.dump({"settings": settings, "rounds": args.rounds, "results": results}, file, indent=1)
        return results
    finally:
        if args.keep:
            print(f"run folders kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
