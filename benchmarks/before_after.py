"""Before and after: one training step from several checkouts (or kernels modes, or implementations), each
side a worker process of its own (benchmarks/worker.py run in that checkout), interleaved, medians.

    python -m benchmarks.before_after before=/path/to/old/checkout after=. after-ref=.,TINYGRAD_GPT_KERNELS=reference \
        torch=.,impl=torch-lecture --impls ours-lecture --configs tiny,small,medium --rounds 5

A side is LABEL=DIR[,impl=IMPLEMENTATION][,KEY=VALUE...] (environment variables for its worker). Each line
printed: the side's median step, its ratio to the first side, and the range of its per-round medians (the
spread that says whether a difference is real)."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = {
    "tiny": {"batch": 16, "block": 32, "n_embd": 64, "n_head": 4, "n_layer": 4, "vocab": 65},
    "small": {"batch": 32, "block": 64, "n_embd": 128, "n_head": 4, "n_layer": 4, "vocab": 65},
    "medium": {"batch": 32, "block": 128, "n_embd": 256, "n_head": 8, "n_layer": 6, "vocab": 65},
}
STEPS = {"tiny": 20, "small": 5, "medium": 2}


class W:
    def __init__(self, label, root, impl, config, env_extra):
        env = {**os.environ, "PYTHONPATH": root, **env_extra}
        self.label = label
        self.p = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", impl, json.dumps(config), "--warmup", "3"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert json.loads(self.p.stdout.readline())["ready"]

    def time(self, n):
        self.p.stdin.write(json.dumps({"time": n}) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())["seconds"]

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sides", nargs="+", help="LABEL=DIR[,KEY=VAL...]")
    ap.add_argument("--impls", default="ours-lecture")
    ap.add_argument("--configs", default="tiny,small,medium")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    sides = []
    for s in a.sides:
        label, rest = s.split("=", 1)
        parts = rest.split(",")
        env = dict(p.split("=", 1) for p in parts[1:])
        sides.append((label, parts[0], env.pop("impl", None), env))
    for impl in a.impls.split(","):
        for cname in a.configs.split(","):
            ws = [W(label, root, own or impl, CONFIGS[cname], env) for label, root, own, env in sides]
            samples = {w.label: [] for w in ws}
            medians_per_round = {w.label: [] for w in ws}
            for r in range(a.rounds):
                order = ws if r % 2 == 0 else ws[::-1]
                for w in order:
                    time.sleep(0.2)
                    t = w.time(STEPS[cname])
                    samples[w.label] += t
                    medians_per_round[w.label].append(statistics.median(t))
            for w in ws:
                w.close()
            base = statistics.median(samples[ws[0].label])
            for w in ws:
                m = statistics.median(samples[w.label])
                rm = medians_per_round[w.label]
                print(
                    f"{impl:14s} {cname:7s} {w.label:12s} median {m * 1e3:8.2f} ms  ratio {m / base:5.3f}  "
                    f"round medians {min(rm) * 1e3:.1f}-{max(rm) * 1e3:.1f} ms",
                    flush=True,
                )


if __name__ == "__main__":
    main()
