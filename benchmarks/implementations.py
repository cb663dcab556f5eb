"""The implementations of one GPT training step that the model suite compares.

Each `make_step(name, config, device)` returns a zero-argument function running one step
(forward, backward, AdamW with PyTorch's defaults, lr 1e-3) on a fixed random batch:

    ours-lecture   benchmarks/lecture_model.py on this project (one module per head)
    ours-gpt       tinygrad_gpt.GPT (all heads in one product, fused attention)
    numpy          benchmarks/handwritten.py: the same model in NumPy, no autograd
    torch-lecture  benchmarks/lecture_model.py on PyTorch: the same source, PyTorch's modules
    torch-gpt      benchmarks/torch_reference.py (PyTorch's fused attention)
    ours-lecture-graph, ours-gpt-graph   on "cuda": the same steps recorded once as a CUDA graph
                   (tensor.cuda.CUDAGraph, AdamW(capturable=True)) and replayed
    ours-lecture-compiled, ours-gpt-compiled   the same steps through tensor.compile: recorded on the
                   first calls, their array work replayed after (tensor/fast/compile.py), cpu or cuda

Each is timed in its own process (benchmarks/worker.py), as a user runs it.
"""

import functools
import importlib.util
import os
import sys

IMPLEMENTATIONS = (
    "ours-lecture",
    "ours-gpt",
    "numpy",
    "torch-lecture",
    "torch-gpt",
    "ours-lecture-graph",
    "ours-gpt-graph",
    "ours-lecture-compiled",  # tensor.compile (issue 30)
    "ours-gpt-compiled",
)


def training_step(model, optimizer, x, y):
    """One step as a training loop writes it: forward to the loss, zero the grads, backward, update."""

    def step():
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def build_step(c, device, seed=0, capturable=False):
    """One training step of our GPT (forward, backward, AdamW) on fixed random batches."""
    import tensor
    from tinygrad_gpt import GPT, GPTConfig

    tensor.manual_seed(seed)
    config = GPTConfig(
        vocab_size=c["vocab"], block_size=c["block"], n_embd=c["n_embd"], n_head=c["n_head"], n_layer=c["n_layer"]
    )
    model = GPT(config).to(device)
    optimizer = tensor.optim.AdamW(model.parameters(), lr=1e-3, capturable=capturable)
    x = tensor.randint(c["vocab"], (c["batch"], c["block"]), device=device)
    y = tensor.randint(c["vocab"], (c["batch"], c["block"]), device=device)
    return training_step(model, optimizer, x, y)


@functools.cache
def lecture_model(framework):
    """benchmarks/lecture_model.py as a module running on this project ("ours") or on PyTorch ("torch").

    For PyTorch the file is executed while the names it imports (`tensor`, `nn`,
    `nn.functional`) stand for torch, torch.nn and torch.nn.functional; they are restored after.
    """
    if framework == "ours":
        from . import lecture_model as module

        return module
    if framework != "torch":
        raise ValueError(f"framework must be 'ours' or 'torch', got {framework!r}")
    import torch

    aliases = {"tensor": torch, "nn": torch.nn, "nn.functional": torch.nn.functional}
    saved = {name: sys.modules.get(name) for name in aliases}
    path = os.path.join(os.path.dirname(__file__), "lecture_model.py")
    spec = importlib.util.spec_from_file_location("benchmarks.lecture_model_on_torch", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.update(aliases)
    try:
        spec.loader.exec_module(module)
    finally:
        for name, original in saved.items():
            if original is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = original
    return module


def _lecture_step(framework, c, device, seed, capturable=False):
    """The lecture model's step on either framework: the two APIs agree on every name used here."""
    if framework == "torch":
        import torch as library
    else:
        import tensor as library
    library.manual_seed(seed)
    model = lecture_model(framework).GPTLanguageModel(c["vocab"], c["block"], c["n_embd"], c["n_head"], c["n_layer"])
    model = model.to(device)
    optimizer = library.optim.AdamW(model.parameters(), lr=1e-3, **({"capturable": True} if capturable else {}))
    x = library.randint(c["vocab"], (c["batch"], c["block"]), device=device)
    y = library.randint(c["vocab"], (c["batch"], c["block"]), device=device)
    return training_step(model, optimizer, x, y)


def _replayed(step):
    """The step recorded as a CUDA graph after two steps run op by op (CuPy compiles its kernels, the
    gradients and AdamW's state are made): each call replays it, on the same fixed batch."""
    import tensor

    step()
    step()
    graph = tensor.cuda.CUDAGraph()
    with tensor.cuda.graph(graph):
        step()

    def replay():
        graph.replay()

    # The graph reads and writes the memory of the model, the optimizer's state and the batch, which only
    # `step` holds: without this reference they would be freed, and replays would run in freed memory.
    replay.step = step
    return replay


def _numpy_step(c, seed):
    import numpy as np

    from .handwritten import HandwrittenGPT

    model = HandwrittenGPT(c["vocab"], c["block"], c["n_embd"], c["n_head"], c["n_layer"], seed=seed)
    rng = np.random.default_rng(seed)
    x, y = (rng.integers(c["vocab"], size=(c["batch"], c["block"])) for _ in range(2))
    return lambda: model.train_step(x, y)


def make_step(name, config, device="cpu", seed=0):
    """One training step of implementation `name` (see IMPLEMENTATIONS) at `config` (a MODEL_CONFIGS entry)."""
    if name == "ours-lecture":
        return _lecture_step("ours", config, device, seed)
    if name == "torch-lecture":
        return _lecture_step("torch", config, device, seed)
    if name == "ours-gpt":
        return build_step(config, device, seed)
    if name == "torch-gpt":
        from .torch_reference import make_step as make_torch_step

        return make_torch_step(config, device, seed)
    if name in ("ours-lecture-graph", "ours-gpt-graph"):
        if device != "cuda":
            raise ValueError(f'{name} replays a CUDA graph: it runs on "cuda" only, not {device!r}')
        if name == "ours-lecture-graph":
            return _replayed(_lecture_step("ours", config, device, seed, capturable=True))
        return _replayed(build_step(config, device, seed, capturable=True))
    if name in ("ours-lecture-compiled", "ours-gpt-compiled"):  # tensor.compile (issue 30)
        import tensor

        if name == "ours-lecture-compiled":
            return tensor.compile(_lecture_step("ours", config, device, seed))
        return tensor.compile(build_step(config, device, seed))
    if name == "numpy":
        if device != "cpu":
            raise ValueError(f"the hand-written NumPy step runs on the CPU only, not {device!r}")
        return _numpy_step(config, seed)
    raise ValueError(f"unknown implementation {name!r}; choose from {IMPLEMENTATIONS}")


def synchronizer(name, device):
    """A function that waits for the device to finish the step's work (a no-op on the CPU)."""
    if device == "cpu":
        return lambda: None
    if name.startswith("torch"):
        import torch

        return torch.cuda.synchronize
    from .measure import synchronize

    return lambda: synchronize(device)
