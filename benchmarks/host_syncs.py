"""Device-to-host copies and synchronisations per training step on a real GPU, as CUDA itself saw them.

    python -m benchmarks.host_syncs [--config medium] [--steps 5]

It also prints how many operations the GPU ran per step (kernels, copies, fills) and for how long: a step
whose GPU time is a small part of its wall time is bound by the host queueing them (benchmarks/README.md).

Each host read of a GPU array (`.item()`, `bool(...)`, `.get()`) is a device-to-host copy that
waits for every queued kernel, so a step that reads back a few numbers per layer cannot keep
a GPU busy. The strict CuPy stand-in counts the reads of the library's code path on any machine
(tests/cuda/test_host_reads.py); this program counts what the GPU did: the "Memcpy DtoH" and
synchronise records of a PyTorch profiler trace, which CUDA's profiling interface (CUPTI) takes
for every library in the process, CuPy included. It needs a GPU, CuPy and PyTorch built for CUDA
(PyTorch only as the profiler; our step does not use it).

The step is the benchmark's (benchmarks/implementations.py `training_step`): forward, zero_grad, backward,
AdamW. It does not read the loss; a training loop reads it once more per step. `ours-lecture-graph` replays
the step as a CUDA graph (tensor.cuda.CUDAGraph): one read per replay, of its recorded index checks.
"""

import argparse
from collections import Counter

import tensor

from .implementations import make_step
from .suites import MODEL_CONFIGS


def count_transfers(step, steps):
    """({event name: count per step} for the device-to-host copies and synchronisations of `steps` steps,
    the GPU's operations per step (kernels, copies, fills), and the milliseconds they took per step)."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):  # warm-up: CuPy compiles its kernels and fills its memory pool
        step()
    tensor.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as trace:
        for _ in range(steps):
            step()
    events = trace.events()
    counts = Counter(
        event.name
        for event in events
        if "DtoH" in event.name or "Synchronize" in event.name or "synchronize" in event.name
    )
    on_gpu = [event for event in events if event.device_type.name == "CUDA"]
    gpu_ms = sum(event.time_range.elapsed_us() for event in on_gpu) / 1e3
    return {name: count / steps for name, count in counts.items()}, len(on_gpu) / steps, gpu_ms / steps


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.host_syncs", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="medium", choices=list(MODEL_CONFIGS))
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    if not tensor.cuda.is_available():
        raise SystemExit("error: needs CuPy and a GPU")
    config = MODEL_CONFIGS[args.config]
    names = ("ours-gpt", "ours-lecture", "torch-lecture", "ours-lecture-graph")  # a replay reads the index checks
    steps = {name: make_step(name, config, "cuda") for name in names}
    one = tensor.ones(1, device="cuda")
    ours = steps["ours-gpt"]
    steps["ours-gpt + one .item() (the counter's control)"] = lambda: (ours(), one.sum().item())
    for name, step in steps.items():
        counts, operations, gpu_ms = count_transfers(step, args.steps)
        copies = sum(n for event, n in counts.items() if "DtoH" in event)
        print(
            f"{name} ({args.config}): {copies:g} device-to-host copies per step; all records: {counts}; "
            f"{operations:,.0f} GPU operations per step, {gpu_ms:.1f} ms of GPU time"
        )


if __name__ == "__main__":
    main()
