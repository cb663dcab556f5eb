"""Run the course's learner programs under PyTorch and here, imports rewritten, and judge our losses against theirs.

The 13 programs (issue 29), from checkouts the caller gives (their code is never copied into this repository):
    part1 .. part5          karpathy/nn-zero-to-hero  lectures/makemore/makemore_part{1..5}_*.ipynb
    makemore-<type>         karpathy/makemore         makemore.py --type bigram|mlp|rnn|gru|bow|transformer,
                                                      trained, then run again with --sample-only
    chargpt, adder          karpathy/minGPT           projects/{chargpt,adder} with mingpt/{model,trainer,utils}.py

    python tests/programs/run_learner_programs.py --zero-to-hero ../nn-zero-to-hero --makemore ../makemore \\
        --mingpt ../minGPT --text tinyshakespeare.txt [--only part1 makemore-mlp] [--steps 300] [--work DIR] \\
        [--torch-seeds 3]

Each program runs under PyTorch as written (once per seed, below) and here once, with only its
imports rewritten (benchmarks.programs.rewrite_imports: `import torch` -> `import tensor as torch`, `torch.nn` -> `nn`,
`torch.utils...` -> `tensor.utils...`), each run in its own process. All runs get the same preparation, as text:
  - notebooks: the code cells in order, as one script, each in a try block that prints
    "[cell N failed: error]" and goes on: the authors ran some cells out of order (part 1 shows P.shape
    before the cell that makes P; part 2 indexes a batch of 32 with the whole dataset's Y), and the
    shortened runs break a plot's reshape (part 5: lossi.view(-1, 1000)). Such cells fail alike under
    PyTorch; a run here reaches its end when no cell fails here that does not fail under PyTorch. IPython magics (`%...`, `!...`) are dropped,
    `import matplotlib...` becomes a stand-in `plt` whose every call does nothing (the plots have no
    reader here, the numbers printed beside them do), and the one widget cell (ipywidgets) is left
    out. A cell's last bare expression is printed, as the notebook shows it.
  - shortening (SHORTEN below): in notebooks, `max_steps = N` and `range(N)` with N >= 1000 become
    --steps; makemore.py gets `--max-steps 501` (its test loss is measured at step 500) and minGPT's
    projects `--trainer.max_iters` (their own command-line options, no edit).
  - makemore.py gets `--num-workers 0` and minGPT's trainer `--trainer.num_workers=0` (their options):
    PyTorch's default of 4 worker processes crowds a small shared machine (an RNN run took 23 minutes),
    and here loading is in the calling process either way. Same batches, in the same process.
  - chargpt reads input.txt, tiny Shakespeare, which minGPT's repository does not hold: --text names
    it (chargpt is left out without it; its sample prompt "O God, O God!" needs those characters).
PyTorch's seed-to-seed spread (--torch-seeds N, default 3): PyTorch runs each program N times, the seed moved
by 0, 1, ..., N-1 the way the program takes a seed: in the notebooks every `manual_seed(K)` (the
torch.Generator's and torch.manual_seed's) becomes `manual_seed(K + offset)` as text, as the rest of the
preparation; makemore.py gets `--seed` and minGPT's projects `--system.seed=` (their options), their own default
plus the offset. Python's `random.seed(42)` (the notebooks' data split) is the same on both sides and stays.
Ours runs once, with the program's own seed. Each value printed is then judged against PyTorch's min..max over
the seeds (tests/programs/seed_spread.py says how: deterministic values to float32 round-off, random ones
inside or near the spread), and a table sums up each program. With --torch-seeds 1 the losses are paired line
by line (ours | PyTorch). Each run's exit status and its last error line say whether it reached its end.
Nothing here runs in the default test suite.
"""

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

sys.path.insert(
    0, str(REPO)
)  # benchmarks/ of this checkout: the one import mapping, shared with its programs benchmark
from benchmarks.programs import rewrite_imports  # noqa: E402  PyTorch's imports spelled as this project's
from tests.programs import seed_spread  # noqa: E402  the verdict against PyTorch's seed-to-seed spread

# ----- notebooks ---------------------------------------------------------------------------------------------

NO_PLOTS = """
class _NoPlot:  # learner_programs: plots have no reader here; every plt call does nothing
    def __getattr__(self, name):
        return self
    def __call__(self, *args, **kwargs):
        return self
    def __iter__(self):
        return iter((self, self))
plt = _NoPlot()


def _show(value):  # learner_programs: a cell's last expression, shown as the notebook shows it
    if value is not None:
        print(repr(value))
"""


def _show_last_expression(cell):
    """Wrap a cell's last top-level expression in _show(...), as a notebook displays it (not one ending in `;`)."""
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        return cell
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return cell
    last = tree.body[-1]
    lines = cell.splitlines()
    if lines[last.end_lineno - 1][last.end_col_offset :].lstrip().startswith(";"):
        return cell  # `expr;` hides the value in a notebook
    if isinstance(last.value, ast.Call) and getattr(last.value.func, "id", "") == "print":
        return cell
    start, end = last.lineno - 1, last.end_lineno
    lines[start:end] = ["_show(("] + lines[start:end] + ["))"]
    return "\n".join(lines)


SKIPPED = (
    "except Exception as error:  # learner_programs: note the failure, go on with the next cell\n"
    '    print("[cell {} failed:", type(error).__name__ + ":", str(error)[:300], "]")'
)


def notebook_to_script(path):
    """The notebook's code cells as one script (see the module docstring for what changes)."""
    cells = [
        "".join(c["source"])
        for c in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        if c["cell_type"] == "code"
    ]
    parts = [NO_PLOTS]
    for number, cell in enumerate(cells):
        if "ipywidgets" in cell:
            continue  # the interactive widget: nothing to run without a notebook
        lines = [
            line
            for line in cell.splitlines()
            if not line.lstrip().startswith(("%", "!")) and not re.match(r"\s*import matplotlib", line)
        ]
        code = _show_last_expression("\n".join(lines))
        parts.append(
            f"# ---- cell {number} ----\ntry:\n{textwrap.indent(code, '    ')}\n    pass\n{SKIPPED.format(number)}"
        )
    return "\n\n".join(parts) + "\n"


def shorten_notebook(script, steps):
    """max_steps = N and range(N), N >= 1000, become `steps`: the training loops, shortened alike on both sides."""
    script = re.sub(r"\bmax_steps = \d+", f"max_steps = {steps}", script)
    return re.sub(r"\brange\((\d{4,})\)", f"range({steps})", script)


# ----- running -----------------------------------------------------------------------------------------------


def reseed_notebook(script, offset):
    """Every `manual_seed(N)` becomes `manual_seed(N + offset)`: the notebooks' one way of taking a seed."""
    return re.sub(r"\bmanual_seed\((\d+)\)", lambda m: f"manual_seed({int(m.group(1)) + offset})", script)


def default_seed(source, pattern):
    """The program's own seed, read from its source (makemore.py's --seed default, minGPT's C.system.seed)."""
    found = re.search(pattern, source)
    if not found:
        raise SystemExit(f"cannot find the program's seed ({pattern}) to offset it")
    return int(found.group(1))


def prepare(program, side, args, root, seed=0):
    """Write the program's files for one side under root; returns (command, cwd, extra PYTHONPATH).

    seed: an offset to the program's own seed(s), given the way the program takes a seed (0: as written)."""
    root.mkdir(parents=True, exist_ok=True)
    rewrite = rewrite_imports if side == "ours" else (lambda s: s)
    names = Path(args.makemore) / "names.txt"
    if program.startswith("part"):
        notebook = next((Path(args.zero_to_hero) / "lectures" / "makemore").glob(f"makemore_{program}_*.ipynb"))
        script = reseed_notebook(shorten_notebook(notebook_to_script(notebook), args.steps), seed)
        (root / "program.py").write_text(rewrite(script))
        shutil.copy(names, root / "names.txt")
        return [[sys.executable, "program.py"]], root, []
    if program.startswith("makemore-"):
        source = (Path(args.makemore) / "makemore.py").read_text()
        (root / "makemore.py").write_text(rewrite(source))
        shutil.copy(names, root / "names.txt")
        base = [sys.executable, "makemore.py", "-i", "names.txt", "-o", "out", "--type", program.split("-", 1)[1]]
        base += ["--num-workers", "0"]  # see the module docstring: no worker processes on either side
        if seed:
            base += ["--seed", str(default_seed(source, r"'--seed', type=int, default=(\d+)") + seed)]
        return [base + ["--max-steps", str(args.makemore_steps)], base + ["--sample-only"]], root, []
    mingpt = root / "minGPT"
    shutil.rmtree(mingpt, ignore_errors=True)
    for relative in (
        "mingpt/__init__.py",
        "mingpt/model.py",
        "mingpt/trainer.py",
        "mingpt/utils.py",
        f"projects/{program}/{program}.py",
    ):
        target = mingpt / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rewrite((Path(args.mingpt) / relative).read_text()))
    project = mingpt / "projects" / program
    if program == "chargpt":
        shutil.copy(args.text, project / "input.txt")
    iters = args.chargpt_iters if program == "chargpt" else args.adder_iters
    command = [sys.executable, f"{program}.py", f"--trainer.max_iters={iters}", "--trainer.num_workers=0"]
    if seed:
        own = default_seed((project / f"{program}.py").read_text(), r"C\.system\.seed = (\d+)")
        command.append(f"--system.seed={own + seed}")
    return [command], project, [str(mingpt)]


def run_name(side, seed):
    """The run's folder under --work: "ours", "torch" (the program's own seed), "torch-seed+1", ..."""
    return f"{side}-seed+{seed}" if seed else side


def earlier_run(root):
    """(status, output, seconds) of the run last made in root; status None when there is none."""
    if not (root / "output.txt").exists():
        return None, "", 0.0
    recorded = json.loads((root / "status.json").read_text()) if (root / "status.json").exists() else {}
    return recorded.get("status", 0), (root / "output.txt").read_text(), recorded.get("seconds", 0.0)


def run_side(program, side, args, seed=0):
    root = Path(args.work) / program / run_name(side, seed)
    commands, cwd, paths = prepare(program, side, args, root, seed)
    env = dict(os.environ)
    extra = paths + ([str(REPO)] if side == "ours" else [])
    env["PYTHONPATH"] = os.pathsep.join(extra + [env.get("PYTHONPATH", "")])
    env.setdefault("MPLBACKEND", "Agg")
    if args.threads:  # PyTorch's (OpenMP's) and the BLAS's threads; the losses do not depend on them
        env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = str(args.threads)
    output, status, started = "", 0, time.time()
    for command in commands:
        try:
            done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=args.timeout)
            output += done.stdout + done.stderr
            status = done.returncode
        except subprocess.TimeoutExpired as timeout:
            output += (
                (timeout.stdout or b"").decode(errors="replace")
                if isinstance(timeout.stdout, bytes)
                else (timeout.stdout or "")
            )
            status = "timeout"
        if status != 0:
            break
    (root / "output.txt").write_text(output)
    (root / "status.json").write_text(json.dumps({"status": status, "seconds": time.time() - started}))
    return status, output, time.time() - started


LOSS_LINE = re.compile(
    r"loss|^\s*\d+/\s*\d+: [\d.]+|approximate|correct"  # losses, step: loss, part 4's checks, adder's score
    r"|^(train|val|test) -?\d+\.\d+$"  # the notebooks' split_loss
    r"|^(\w+=)?tensor\(-?\d+\.\d*(e[-+]?\d+)?(, grad_fn=[^)]*)?\)$|^-?\d+\.\d+(e[-+]?\d+)?$",  # shown scalars
    re.IGNORECASE,
)


def loss_lines(output):
    """The lines that report a loss (or part 4's gradient comparisons, adder's score, a notebook's scalar)."""
    return [line.strip() for line in output.splitlines() if LOSS_LINE.search(line) and "Traceback" not in line]


def error_line(output):
    lines = [line for line in output.splitlines() if line.strip()]
    return next(
        (line for line in reversed(lines) if re.match(r"\w*(Error|Exception)\b", line)), lines[-1] if lines else ""
    )


FAILED_CELL = re.compile(r"^\[cell (\d+) failed: (.*) \]$", re.MULTILINE)


def failed_cells(output):
    """{cell number: error} of a notebook's cells that failed."""
    return {int(number): error for number, error in FAILED_CELL.findall(output)}


def torch_runs(results):
    """The PyTorch runs' names in seed order: "torch", "torch-seed+1", ..."""
    return [name for name in results if name.startswith("torch")]


def reached_end(results, name="ours"):
    """Ran to the end, no cell failing that PyTorch (with the program's own seed) ran through."""
    status, output, _ = results[name]
    return status == 0 and not set(failed_cells(output)) - set(failed_cells(results["torch"][1]))


def report(program, results, width=70):
    """Each run's end, then the losses: side by side with one PyTorch run, or against several seeds' spread."""
    print(f"\n=== {program} ===")
    for name, (status, output, seconds) in results.items():
        verdict = "ran to the end" if status == 0 else f"STOPPED ({status}): {error_line(output)}"
        if status == 0 and not reached_end(results, name):
            verdict = "ran to the end, but cells failed that PyTorch ran through"
        print(f"  {name:13s} {seconds:6.0f}s  {verdict}")
        for number, error in failed_cells(output).items():
            also = "" if number in failed_cells(results["torch"][1]) else "  <- not under PyTorch's own seed"
            print(f"        cell {number} failed: {error[:100]}{also}")
    ours, seeds = loss_lines(results["ours"][1]), [loss_lines(results[name][1]) for name in torch_runs(results)]
    more_ours = [loss_lines(results[name][1]) for name in results if name.startswith("ours-")]
    if len(seeds) > 1:
        ends = [reached_end(results, name) for name in ["ours"] + torch_runs(results)]
        return seed_spread.report(ours, seeds, ends, width, more_ours)
    theirs = seeds[0]
    for i in range(max(len(ours), len(theirs))):
        left = ours[i] if i < len(ours) else ""
        right = theirs[i] if i < len(theirs) else ""
        print(f"    {left[:width]:{width}s} | {right[:width]}")
    return None


PROGRAMS = (
    [f"part{i}" for i in range(1, 6)]
    + [f"makemore-{t}" for t in ("bigram", "mlp", "rnn", "gru", "bow", "transformer")]
    + ["chargpt", "adder"]
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zero-to-hero", required=True, help="checkout of karpathy/nn-zero-to-hero")
    parser.add_argument("--makemore", required=True, help="checkout of karpathy/makemore (its names.txt is used too)")
    parser.add_argument("--mingpt", required=True, help="checkout of karpathy/minGPT")
    parser.add_argument("--text", help="chargpt's input.txt: tiny Shakespeare (chargpt is left out without it)")
    parser.add_argument("--only", nargs="*", choices=PROGRAMS, help="run these programs only")
    parser.add_argument(
        "--sides", nargs="*", default=["ours", "torch"], choices=["ours", "torch"], help="the other: its last output"
    )
    parser.add_argument("--steps", type=int, default=300, help="notebooks' training steps")
    parser.add_argument("--makemore-steps", type=int, default=501, help="makemore.py --max-steps")
    parser.add_argument("--chargpt-iters", type=int, default=200)
    parser.add_argument("--adder-iters", type=int, default=501, help="adder scores the test set at iteration 500")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per run")
    parser.add_argument(
        "--threads",
        type=int,
        help="threads per run (OMP_NUM_THREADS): 1 on a busy shared machine, where PyTorch crawls",
    )
    parser.add_argument("--work", default="/tmp/learner_programs", help="where the runs' files and outputs go")
    parser.add_argument(
        "--torch-seeds",
        type=int,
        default=3,
        help="PyTorch runs per program, seeds offset by 0, 1, ...: ours is judged against their spread (1: side by side)",
    )
    parser.add_argument(
        "--ours-seeds",
        type=int,
        default=1,
        help="our runs per program: beyond the first (the program's own seed, the one judged), shown as our own spread",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="read the runs already made under --work instead of running them again"
    )
    args = parser.parse_args(argv)
    finished, programs, summary = 0, args.only or PROGRAMS, {}
    if "chargpt" in programs and not args.text:
        print("chargpt left out: give --text, a copy of tiny Shakespeare (its input.txt)")
        programs = [p for p in programs if p != "chargpt"]
    runs = [("ours", seed) for seed in range(args.ours_seeds)] + [("torch", seed) for seed in range(args.torch_seeds)]
    for program in programs:
        results = {}
        for side, seed in runs:
            earlier = earlier_run(Path(args.work) / program / run_name(side, seed))
            if side in args.sides and not (args.reuse and earlier[0] is not None):
                results[run_name(side, seed)] = run_side(program, side, args, seed)
            else:  # a side not run now, or a run --reuse finds done: its last run's output, if any
                results[run_name(side, seed)] = earlier
        summary[program] = report(program, results)
        finished += reached_end(results)
    print(f"\n{finished} of {len(programs)} programs reached their end here")
    if args.torch_seeds > 1:
        seed_spread.summary_table(summary, args.torch_seeds)


if __name__ == "__main__":
    main()
