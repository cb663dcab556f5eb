"""`python -m benchmarks ladder`: what each engine-room device buys, as a table.

The lecture GPT's training step (benchmarks/lecture_model.py) runs in reference mode (the textbook
only), then with the engine room's devices switched on one more at a time, in the order they are
registered (tensor.kernels.devices()), up to fast mode (every device). Each rung runs in a worker
process of its own (benchmarks/worker.py); the rungs take turns, a few steps each, over several rounds,
so a noisy neighbour slows them all alike. The table gives each rung's median step time, its ratio to
reference mode, and what the device added on that rung saved against the rung below.
"""

import argparse
import json

from .measure import machine_header
from .suites import MODEL_CONFIGS
from .worker import Worker, interleaved_step_medians


def rungs(devices):
    """[(label, (mode, only))]: reference, each device added in turn, then every device (fast mode)."""
    ladder = [("reference", ("reference", None))]
    for i, device in enumerate(devices[:-1]):
        ladder.append((f"+ {device}", ("fast", devices[: i + 1])))
    if devices:
        ladder.append((f"+ {devices[-1]} = fast", ("fast", None)))
    return ladder


def engine_room_devices():
    """The registered devices, in order, as a process that imports the library registers them."""
    import nn  # noqa: F401  (registers nn's devices; tensor's register when tensor is imported)
    import tensor

    return tensor.kernels.devices()


def measure(config, device="cpu", rounds=5, steps=5, warmup=3, implementation="ours-lecture"):
    """[(label, median seconds a step)] for each rung of the ladder, measured interleaved."""
    ladder = rungs(engine_room_devices())
    workers = []
    try:
        for label, kernels in ladder:
            workers.append(Worker(implementation, config, device, warmup=warmup, kernels=kernels, name=label))
        medians = interleaved_step_medians(workers, rounds, steps, pause=0.2 if device == "cpu" else 0.0)
    finally:
        for worker in workers:
            worker.close()
    return [(label, medians[label]) for label, _ in ladder]


def table(results):
    """A markdown table: rung, ms a step, ratio to reference, and the step time the rung's device saved."""
    reference = results[0][1]
    lines = ["| config | ms/step | vs reference | saved by this device |", "|---|---:|---:|---:|"]
    previous = None
    for label, seconds in results:
        saved = "" if previous is None else f"{(previous - seconds) / previous:+.0%}"
        lines.append(f"| {label} | {seconds * 1e3:.2f} | {seconds / reference:.2f}x | {saved} |")
        previous = seconds
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks ladder", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size", default="small", help=f"comma-separated sizes from {', '.join(MODEL_CONFIGS)} (default: small)"
    )
    parser.add_argument("--config", default=None, help="a model config as JSON (keys as MODEL_CONFIGS), for --size")
    parser.add_argument("--device", default="cpu", help='"cpu" or "cuda" (default: cpu)')
    parser.add_argument("--rounds", type=int, default=5, help="rounds in which every rung times --steps steps")
    parser.add_argument("--steps", type=int, default=5, help="steps a rung times in each round")
    parser.add_argument("--warmup", type=int, default=3, help="steps each worker runs before it is timed")
    args = parser.parse_args(argv)
    if args.config is not None:
        sizes = {"config": json.loads(args.config)}
    else:
        unknown = [s for s in args.size.split(",") if s not in MODEL_CONFIGS]
        if unknown:
            raise SystemExit(f"error: unknown size(s) {unknown}; choose from {', '.join(MODEL_CONFIGS)}")
        sizes = {s: MODEL_CONFIGS[s] for s in args.size.split(",")}
    header = machine_header([args.device])
    print("# The engine room's ladder: reference -> + each device -> fast\n")
    print("\n".join(f"- {k}: {v}" for k, v in header.items()) + "\n")
    results = {}
    for size, config in sizes.items():
        results[size] = measure(config, args.device, args.rounds, args.steps, args.warmup)
        print(f"## {size} ({args.device}, {args.rounds} rounds of {args.steps} steps, medians)\n")
        print(table(results[size]) + "\n")
    return results


if __name__ == "__main__":
    main()
