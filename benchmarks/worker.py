"""One implementation's training step, timed in a process of its own.

Why a process each: what a user experiences is one framework alone in its process, and two
libraries in one process interfere (one's idle BLAS or OpenMP threads spin on a core that the
other needs; benchmarks/README.md, "A correction"). The parent (`Worker`) starts one worker per
implementation (or a few replicas of each) and asks each in turn for a few timed steps, so a
noisy neighbour slows all of them alike.

Protocol, one JSON line each way:
    start:  python -m benchmarks.worker IMPLEMENTATION CONFIG_JSON [--device D] [--warmup N] [--cpus 0,1]
                                         [--kernels reference|fast] [--only DEVICES_JSON]
            -> {"ready": true}  (after building the model and N warm-up steps)
    stdin:  {"time": n}     -> {"seconds": [n step times]}
    stdin:  {"memory": n}   -> {"peak_rss_mib", "peak_above_baseline_mib", "rss_growth_mib",
                                "heap_growth_mib"} after n more steps
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _serve(args):
    if args.cpus:  # before NumPy or PyTorch start, so their thread pools see only these cores (as taskset)
        os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
    import tensor

    from .implementations import make_step, synchronizer

    if args.kernels is not None:  # the mode of tensor/kernels.py, and which engine-room devices are on
        import nn  # noqa: F401  (registers nn's engine-room devices, which --only may name)

        tensor.kernels.set_kernels(args.kernels, None if args.only is None else json.loads(args.only))
    from .measure import current_rss_mib, heap_in_use_mib, peak_rss_mib

    tensor.backend.tune_malloc()  # every worker under the same malloc settings: see tensor.backend.tune_malloc
    if args.implementation.startswith("torch"):
        import torch  # noqa: F401  (loaded before the baseline: PyTorch's code is far larger than ours)
    baseline = current_rss_mib()
    step = make_step(args.implementation, json.loads(args.config), args.device)
    sync = synchronizer(args.implementation, args.device)
    for _ in range(args.warmup):
        step()
    sync()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "time" in request:
            seconds = []
            for _ in range(request["time"]):
                started = time.perf_counter()
                step()
                sync()
                seconds.append(time.perf_counter() - started)
            reply = {"seconds": seconds}
        elif "memory" in request:
            rss_early = heap_early = None
            for i in range(request["memory"]):
                step()
                if i == min(9, request["memory"] - 1):
                    rss_early, heap_early = current_rss_mib(), heap_in_use_mib()
            peak, heap_now = peak_rss_mib(), heap_in_use_mib()
            reply = {
                "peak_rss_mib": peak,
                "peak_above_baseline_mib": peak - baseline,
                "rss_growth_mib": current_rss_mib() - rss_early,
                # what the program keeps, without malloc's free chunks (None where malloc cannot say)
                "heap_growth_mib": None if heap_now is None else heap_now - heap_early,
            }
        else:
            raise ValueError(f"unknown request {request!r}")
        print(json.dumps(reply), flush=True)


class Worker:
    """A running worker process for one implementation and config; close() it (or use `with`)."""

    def __init__(self, implementation, config, device="cpu", warmup=2, cpus=None, kernels=None, name=None):
        """kernels: None (the environment's mode) or (mode, devices), as tensor.kernels.set_kernels(mode, only=devices);
        name: what interleaved_step_medians calls it (default: the implementation)."""
        self.name = name or implementation
        command = [sys.executable, "-m", "benchmarks.worker", implementation, json.dumps(config)]
        command += ["--device", device, "--warmup", str(warmup)]
        if cpus:
            command += ["--cpus", ",".join(str(cpu) for cpu in sorted(cpus))]
        if kernels is not None:
            mode, only = kernels
            command += ["--kernels", mode] + ([] if only is None else ["--only", json.dumps(list(only))])
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env
        )
        self._read()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self._stderr.seek(0)
            raise RuntimeError(
                f"benchmark worker {self.name!r} exited with status {self.process.returncode}:\n{self._stderr.read()}"
            )
        return json.loads(line)

    def _ask(self, request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def time_steps(self, n):
        """Seconds of each of n steps."""
        return self._ask({"time": n})["seconds"]

    def memory(self, steps):
        """Peak and growth of this process's memory over `steps` more steps."""
        return self._ask({"memory": steps})

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()
        self._stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def interleaved_step_medians(workers, rounds, steps_per_round, pause=0.2):
    """{name: median step seconds} over `rounds` rounds in which each implementation in turn times
    steps_per_round steps. pause: seconds of quiet before each turn, so that the previous worker's
    idle threads have stopped spinning (measure.interleaved_medians).

    Workers of one name are replicas, processes of the same implementation: they take the rounds
    in turn and their step times are pooled. Two processes of the same code can differ by several
    percent (where each lands in memory and on the cores: 3% to 19% at tiny on the 2-core VM,
    benchmarks/README.md), which replicas average out instead of handing it to one implementation's ratio."""
    replicas = {}
    for worker in workers:
        replicas.setdefault(worker.name, []).append(worker)
    samples = {name: [] for name in replicas}
    for round_index in range(rounds):
        for name, group in replicas.items():
            time.sleep(pause)
            samples[name] += group[round_index % len(group)].time_steps(steps_per_round)
    return {name: statistics.median(times) for name, times in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__)
    parser.add_argument("implementation")
    parser.add_argument("config", help="the model config as JSON (keys as benchmarks.suites.MODEL_CONFIGS)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--cpus", default=None, help="comma-separated CPUs to run on (as taskset)")
    parser.add_argument("--kernels", default=None, choices=["reference", "fast"], help="tensor.kernels.set_kernels")
    parser.add_argument("--only", default=None, help="fast mode's engine-room devices, as a JSON list (default: all)")
    _serve(parser.parse_args(argv))


if __name__ == "__main__":
    main()
