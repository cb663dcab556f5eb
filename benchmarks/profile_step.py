"""Where does a GPT training step spend its time?
`python -m benchmarks.profile_step --config small [--model lecture] [--torch]`

Times every Function's forward and backward (tensor.profile) over a few steps, and
prints the ops by time and the split between array work and Python overhead, beside the
hand-written NumPy step's time (benchmarks/handwritten.py, the floor without autograd).
--model lecture profiles the lecture model as learners write it (one module per head);
--torch adds PyTorch's per-op profile of the same model; --compiled profiles the step replayed by
tensor.compile (after its recorded calls), whose time outside the ops is what a replay keeps of Python.
"""

import argparse
import time

import tensor

from .implementations import make_step
from .suites import MODEL_CONFIGS

MODELS = {"gpt": ("ours-gpt", "torch-gpt"), "lecture": ("ours-lecture", "torch-lecture")}


def profile_step(config_name="small", device="cpu", steps=10, model="gpt", compiled=False):
    step = make_step(MODELS[model][0] + ("-compiled" if compiled else ""), MODEL_CONFIGS[config_name], device)
    for _ in range(3):
        step()
    with tensor.profile() as profiler:
        started = time.perf_counter()
        for _ in range(steps):
            step()
        total = time.perf_counter() - started
    return profiler, total / steps, profiler.kernel_seconds() / steps


def handwritten_step_seconds(config_name="small", steps=10):
    """The hand-written NumPy step's time (median): what the same step costs without autograd."""
    step = make_step("numpy", MODEL_CONFIGS[config_name])
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def profile_torch_step(config_name="small", device="cpu", steps=5, rows=12, model="gpt"):
    """PyTorch's profiler over the same step in PyTorch: its ops by self time, per step."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    step = make_step(MODELS[model][1], MODEL_CONFIGS[config_name], device)
    for _ in range(3):
        step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as profiler:
        started = time.perf_counter()
        for _ in range(steps):
            step()
        total = time.perf_counter() - started
    events = sorted(profiler.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:rows]
    lines = [f"PyTorch {torch.__version__}, same step: {total / steps * 1e3:.1f} ms (under its profiler)\n"]
    lines.append(f"{'op':<50} {'calls/step':>10} {'self ms/step':>13}")
    for event in events:
        lines.append(
            f"{event.key[:50]:<50} {event.count / steps:>10.0f} {event.self_cpu_time_total / 1e3 / steps:>13.1f}"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_step", description=__doc__)
    parser.add_argument("--config", default="small", choices=sorted(MODEL_CONFIGS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="gpt", choices=sorted(MODELS), help="the project's GPT or the lecture model")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--compiled", action="store_true", help="profile the step replayed by tensor.compile")
    parser.add_argument("--torch", action="store_true", help="also profile the same step in PyTorch (if installed)")
    args = parser.parse_args(argv)
    tensor.backend.tune_malloc()
    profiler, per_step, kernels = profile_step(args.config, args.device, args.steps, args.model, args.compiled)
    print(
        f"{args.model} {args.config} step on {args.device}: {per_step * 1e3:.1f} ms, of which {kernels * 1e3:.1f} ms inside ops "
        f"({kernels / per_step:.0%}) and {(per_step - kernels) * 1e3:.1f} ms Python and optimizer ({1 - kernels / per_step:.0%})\n"
    )
    if args.device == "cpu":
        floor = handwritten_step_seconds(args.config, args.steps)
        print(
            f"hand-written NumPy step (no autograd): {floor * 1e3:.1f} ms; ours (under the profiler) / hand-written {per_step / floor:.2f}\n"
        )
    print(profiler.summary())
    if args.torch:
        print()
        print(profile_torch_step(args.config, args.device, model=args.model))


if __name__ == "__main__":
    main()
