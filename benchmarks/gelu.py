"""GELU forward + backward at issue 32's shape, (16, 64, 512) float32: ours (fast and reference mode) against
PyTorch, each side a process of its own, interleaved rounds, medians and the spread of the round medians.

    python -m benchmarks.gelu [--rounds 7] [--calls 20] [--shape 16,64,512] [--pause 0.3]

Each call is y = gelu(x) then y.backward(upstream), as a training step runs it (x requires grad). Wall time
and CPU time are both printed: CPU time / wall time says how many cores a side kept busy (PyTorch's kernel
runs on every core; NumPy's passes on one, ours on two where the engine room splits the rows). Before each
side's calls the benchmark sleeps `--pause` seconds: the side before it leaves BLAS or OpenMP threads spinning
about 0.1 s after its last call, and those would take the second core from the side timed next
(benchmarks/measure.py's interleaved_medians does the same).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SIDES = {
    "torch": {},
    "ours-fast": {"TINYGRAD_GPT_KERNELS": "fast"},
    "ours-reference": {"TINYGRAD_GPT_KERNELS": "reference"},
}


def worker(side, approximate, shape):
    """Serve `n` on stdin with the wall and CPU seconds of n forward + backward calls."""
    import numpy as np

    if side == "torch":
        import torch

        x = torch.tensor(np.random.default_rng(0).standard_normal(shape, dtype=np.float32), requires_grad=True)
        upstream, gelu = torch.ones(shape), torch.nn.functional.gelu
    else:
        import nn.functional as F
        import tensor

        x = tensor.tensor(np.random.default_rng(0).standard_normal(shape, dtype=np.float32), requires_grad=True)
        upstream, gelu = tensor.ones(*shape), F.gelu

    def call():
        x.grad = None
        gelu(x, approximate=approximate).backward(upstream)

    for _ in range(3):
        call()
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            call()
        print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu]), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20, help="calls timed per round and side")
    parser.add_argument("--shape", default="16,64,512")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds of sleep before each side's calls")
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "APPROXIMATE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shape = tuple(int(n) for n in args.shape.split(","))
    if args.worker:
        return worker(*args.worker, shape)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"GELU forward + backward on {shape} float32, {args.calls} calls a round, {args.rounds} rounds")
    print("| form | side | ms per call (median) | round medians | CPU / wall | / PyTorch |\n|---|---|---|---|---|---|")
    for approximate in ("none", "tanh"):
        workers = {}
        for side, env in SIDES.items():
            command = [sys.executable, "-m", "benchmarks.gelu", "--shape", args.shape, "--worker", side, approximate]
            workers[side] = subprocess.Popen(
                command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **env}
            )
            assert workers[side].stdout.readline().strip() == "ready"
        walls, cpus = {side: [] for side in SIDES}, {side: [] for side in SIDES}
        for _ in range(args.rounds):
            for side, process in workers.items():
                time.sleep(args.pause)
                process.stdin.write(f"{args.calls}\n")
                process.stdin.flush()
                wall, cpu = json.loads(process.stdout.readline())
                walls[side].append(wall / args.calls * 1e3)
                cpus[side].append(cpu / wall)
        for process in workers.values():
            process.stdin.close()
            process.wait()
        torch_ms = statistics.median(walls["torch"])
        for side in SIDES:
            ms = statistics.median(walls[side])
            print(
                f"| {approximate} | {side} | {ms:.2f} | {min(walls[side]):.2f}-{max(walls[side]):.2f} | "
                f"{statistics.median(cpus[side]):.2f} | {ms / torch_ms:.2f} |"
            )


if __name__ == "__main__":
    main()
