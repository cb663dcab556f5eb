"""Where does a GPT training step spend its time? `python -m benchmarks.profile_step --config small`

Times every Function's forward and backward (tensor.profile) over a few steps, and
prints the ops by time and the split between array work and Python overhead.
"""

import argparse
import time

import tensor

from .suites import MODEL_CONFIGS, build_step


def profile_step(config_name="small", device="cpu", steps=10):
    step = build_step(MODEL_CONFIGS[config_name], device)
    for _ in range(3):
        step()
    with tensor.profile() as profiler:
        started = time.perf_counter()
        for _ in range(steps):
            step()
        total = time.perf_counter() - started
    return profiler, total / steps, profiler.kernel_seconds() / steps


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_step", description=__doc__)
    parser.add_argument("--config", default="small", choices=sorted(MODEL_CONFIGS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    tensor.backend.tune_malloc()
    profiler, per_step, kernels = profile_step(args.config, args.device, args.steps)
    print(
        f"{args.config} step on {args.device}: {per_step * 1e3:.1f} ms, of which {kernels * 1e3:.1f} ms inside ops "
        f"({kernels / per_step:.0%}) and {(per_step - kernels) * 1e3:.1f} ms Python and optimizer ({1 - kernels / per_step:.0%})\n"
    )
    print(profiler.summary())


if __name__ == "__main__":
    main()
