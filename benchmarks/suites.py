"""The benchmark suites. Each returns a list of rows (dicts) for one device."""

import sys

import numpy as np

import nn.composed as C
import nn.functional as F
import tensor
from tinygrad_gpt import GPT, GPTConfig

from .implementations import build_step
from .measure import gemm_peak_gflops, interleaved_medians
from .worker import Worker, interleaved_step_medians

# The lecture architecture at three sizes (vocab 65, as tiny Shakespeare).
MODEL_CONFIGS = {
    "tiny": {"batch": 16, "block": 32, "n_embd": 64, "n_head": 4, "n_layer": 4, "vocab": 65},
    "small": {"batch": 32, "block": 64, "n_embd": 128, "n_head": 4, "n_layer": 4, "vocab": 65},
    "medium": {"batch": 32, "block": 128, "n_embd": 256, "n_head": 8, "n_layer": 6, "vocab": 65},
}


def step_flops(c):
    """Matrix-multiply FLOPs of one training step (forward + backward = 3x forward).

    Per token and layer: query/key/value/proj 4 C^2 and feed-forward 8 C^2 multiply-adds,
    plus T C each for the scores and the weighted sum; then C V for lm_head.
    """
    C_, T = c["n_embd"], c["block"]
    per_token = c["n_layer"] * (12 * C_ * C_ + 2 * T * C_) + C_ * c["vocab"]
    return 3 * 2 * c["batch"] * T * per_token


def linear_shapes(c):
    """(in_features, out_features) of every Linear layer of the step's GPT, in order."""
    C_ = c["n_embd"]
    per_block = [(C_, C_)] * 4 + [(C_, 4 * C_), (4 * C_, C_)]  # query, key, value, proj; feed-forward
    return per_block * c["n_layer"] + [(C_, c["vocab"])]


def build_matmuls(c, device, seed=0):
    """The step's Linear-layer matrix products alone, on raw arrays: y = x W^T, and backward's
    dx = g W and dW = g^T x, for every layer. Their time is what BLAS alone costs, the floor
    under the step's time (weights per layer; inputs and gradients shared by layers of one shape)."""
    xp = tensor.backend.array_module(device)
    rng = np.random.default_rng(seed)
    rows = c["batch"] * c["block"]

    def randn(*shape):
        return xp.asarray(rng.standard_normal(shape), dtype=np.float32)

    activations = {(i, o): (randn(rows, i), randn(rows, o)) for i, o in set(linear_shapes(c))}
    layers = [(*activations[i, o], randn(o, i)) for i, o in linear_shapes(c)]

    def matmuls():
        for x, g, w in layers:
            x @ w.T, g @ w, g.T @ x

    return matmuls


def _torch_matmuls(c, device):
    from .torch_reference import make_matmuls

    return make_matmuls(linear_shapes(c), c["batch"] * c["block"], device)


# ----- 1. ops: fused against composed ------------------------------------------------------------


def _randn(shape, device, requires_grad=True):
    return tensor.randn(*shape, device=device, requires_grad=requires_grad)


def _op_cases(size):
    """name -> (fused, composed, inputs(device), work): work = (amount, unit) per forward+backward."""
    medium = size == "medium"
    B, T, Cm, H = (32, 128, 256, 8) if medium else (32, 64, 128, 4)
    V, N, hs = 65, B * T, Cm // H
    floats = 4

    def linear_inputs(device):
        return [_randn((N, Cm), device), _randn((4 * Cm, Cm), device), _randn((4 * Cm,), device)]

    def attention_inputs(device):
        return [_randn((B, H, T, hs), device) for _ in range(3)]

    def cross_entropy_inputs(device):
        return [_randn((N, V), device), tensor.randint(V, (N,), device=device)]

    def embedding_inputs(device):
        return [tensor.randint(V, (B, T), device=device), _randn((V, Cm), device)]

    return {
        "linear (matmul)": (
            lambda x, w, b: F.linear(x, w, b),
            lambda x, w, b: x @ w.T + b,
            linear_inputs,
            (3 * 2 * N * Cm * 4 * Cm, "GFLOP/s"),
        ),
        "softmax": (
            lambda x: F.softmax(x, -1),
            lambda x: C.softmax(x, -1),
            lambda device: [_randn((B, H, T, T), device)],
            (3 * B * H * T * T * floats, "GB/s"),
        ),
        "log_softmax + cross_entropy": (
            lambda x, t: F.cross_entropy(x, t),
            lambda x, t: C.cross_entropy(x, t),
            cross_entropy_inputs,
            (3 * N * V * floats, "GB/s"),
        ),
        "layer_norm": (
            lambda x, w, b: F.layer_norm(x, (Cm,), w, b),
            lambda x, w, b: C.layer_norm(x, (Cm,), w, b),
            lambda device: [_randn((B, T, Cm), device), _randn((Cm,), device), _randn((Cm,), device)],
            (3 * B * T * Cm * floats, "GB/s"),
        ),
        "gelu": (
            lambda x: F.gelu(x),
            lambda x: C.gelu(x),
            lambda device: [_randn((B, T, 4 * Cm), device)],
            (3 * B * T * 4 * Cm * floats, "GB/s"),
        ),
        "embedding": (
            lambda i, w: F.embedding(i, w),
            lambda i, w: _one_hot(i, w.shape[0]) @ w,
            embedding_inputs,
            (3 * B * T * Cm * floats, "GB/s"),
        ),
        "attention (causal)": (
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
            lambda q, k, v: C.scaled_dot_product_attention(q, k, v, is_causal=True),
            attention_inputs,
            (3 * 4 * B * H * T * T * hs, "GFLOP/s"),
        ),
    }


def _one_hot(indices, classes):
    """Embedding lookup written as a product: one_hot(indices) @ W."""
    eye = tensor.tensor(np.eye(classes, dtype=np.float32), device=indices.device)
    return eye[indices]


def _forward_backward(op, inputs, upstream):
    def run():
        for x in inputs:
            x.grad = None
        op(*inputs).backward(upstream)

    return run


def ops_suite(device, quick):
    rows = []
    for size in ["medium"] if quick else ["small", "medium"]:
        for name, (fused, composed, make_inputs, (work, unit)) in _op_cases(size).items():
            inputs = make_inputs(device)
            out_shape = fused(*inputs).shape
            upstream = tensor.randn(*out_shape, device=device)
            times = interleaved_medians(
                {
                    "fused": _forward_backward(fused, inputs, upstream),
                    "composed": _forward_backward(composed, inputs, upstream),
                },
                repeats=3 if quick else 7,
                device=device,
            )
            scale = 1e9
            rows.append(
                {
                    "suite": "ops",
                    "device": device,
                    "name": f"{name} [{size}]",
                    "fused_ms": times["fused"] * 1e3,
                    "composed_ms": times["composed"] * 1e3,
                    "speedup": times["composed"] / times["fused"],
                    "throughput": work / times["fused"] / scale,
                    "unit": unit,
                }
            )
    return rows


# ----- 2. model: a GPT training step, per implementation ---------------------------------------------


def _ratio(ms, a, b):
    return ms[a] / ms[b] if a in ms and b in ms else None


def model_suite(device, quick, reference):
    """One training step per implementation (benchmarks/implementations.py), each in worker processes
    of its own (four per implementation at tiny, two at small, taking the rounds in turn), interleaved
    rounds, medians; plus the step's Linear matmuls alone, in-process."""
    rows = []
    peak = gemm_peak_gflops(device)
    names = ["ours-lecture", "ours-gpt"] + (["numpy"] if device == "cpu" else ["ours-lecture-graph", "ours-gpt-graph"])
    names += ["ours-lecture-compiled", "ours-gpt-compiled"]  # tensor.compile's replays (issue 30)
    if reference:
        names += ["torch-lecture"] if quick else ["torch-lecture", "torch-gpt"]
    for name in ["tiny", "small"] if quick else list(MODEL_CONFIGS):
        c = MODEL_CONFIGS[name]
        # (processes per implementation, rounds, steps a round); the processes of one implementation take
        # the rounds in turn (interleaved_step_medians): four at tiny, where a step takes ~20 ms and two
        # processes of the same code can differ by 3% to 19%, one at medium (ten processes of up to
        # 1.4 GB would not fit a small machine)
        schedule = {"tiny": (4, 12, 5), "small": (2, 6, 5), "medium": (1, 3, 3)}
        replicas, rounds, steps = (1, 2, 2) if quick else schedule[name]
        workers, failed = [], {}
        try:
            for implementation in names:
                try:
                    for _ in range(replicas):
                        workers.append(Worker(implementation, c, device, warmup=2 if quick else 3))
                except RuntimeError as error:
                    if not implementation.endswith("-graph"):
                        raise
                    # CUDA graphs refuse to capture where their cuBLAS check fails (tensor/cublas.py): a row
                    # without them, and the reason in the results, rather than no benchmark at all
                    failed[implementation] = str(error).strip().splitlines()[-1]
                    print(f"{implementation} ({name}) did not run: {failed[implementation]}", file=sys.stderr)
                    for worker in [w for w in workers if w.name == implementation]:
                        worker.close()
                        workers.remove(worker)
            times = interleaved_step_medians(workers, rounds, steps, pause=0.2 if device == "cpu" else 0.0)
        finally:
            for worker in workers:
                worker.close()
        matmuls = {"ours": build_matmuls(c, device)}
        if reference:
            matmuls["torch"] = _torch_matmuls(c, device)
        matmul_times = interleaved_medians(matmuls, repeats=rounds * steps, warmup=2, device=device, pause=0.2)
        ms = {implementation: seconds * 1e3 for implementation, seconds in times.items()}

        ours = times["ours-gpt"]
        rows.append(
            {
                "suite": "model",
                "device": device,
                "name": name,
                **{f"{implementation}_ms": value for implementation, value in ms.items()},
                "lecture_vs_numpy": _ratio(ms, "ours-lecture", "numpy"),
                "gpt_vs_numpy": _ratio(ms, "ours-gpt", "numpy"),
                "lecture_vs_torch": _ratio(ms, "ours-lecture", "torch-lecture"),
                "lecture_graph_vs_torch": _ratio(ms, "ours-lecture-graph", "torch-lecture"),
                "lecture_compiled_vs_torch": _ratio(ms, "ours-lecture-compiled", "torch-lecture"),  # issue 30
                "gpt_compiled_vs_numpy": _ratio(ms, "ours-gpt-compiled", "numpy"),
                "numpy_vs_torch": _ratio(ms, "numpy", "torch-lecture"),
                "gpt_vs_torch_gpt": _ratio(ms, "ours-gpt", "torch-gpt"),
                "tokens_per_s": c["batch"] * c["block"] / ours,
                "gemm_peak_fraction": step_flops(c) / ours / (peak * 1e9),
                **({"graph_errors": failed} if failed else {}),
                "matmul_ms": matmul_times["ours"] * 1e3,
                "torch_matmul_ms": matmul_times["torch"] * 1e3 if "torch" in matmul_times else None,
            }
        )
    return rows, peak


# ----- 3. scaling ------------------------------------------------------------------------------------


def fitted_exponent(xs, ys):
    """Slope of log(y) against log(x): time ~ x^slope."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def scaling_suite(device, quick):
    base = {"batch": 8, "block": 64, "n_embd": 64, "n_head": 4, "n_layer": 2, "vocab": 65}
    blocks = [32, 64, 128, 256] if quick else [32, 64, 128, 256, 512]
    layers = [1, 2, 4] if quick else [1, 2, 4, 8]
    results = {"block_size": [], "n_layer": []}
    for block in blocks:
        c = {**base, "block": block}
        results["block_size"].append(
            (block, interleaved_medians({"s": build_step(c, device)}, repeats=3, device=device)["s"])
        )
    for n_layer in layers:
        c = {**base, "n_layer": n_layer}
        results["n_layer"].append(
            (n_layer, interleaved_medians({"s": build_step(c, device)}, repeats=3, device=device)["s"])
        )
    rows = []
    for knob, points in results.items():
        xs, ys = zip(*points)
        # the largest sizes show the leading term: quadratic attention for block_size, linear for depth
        exponent = fitted_exponent(xs[-3:], ys[-3:])
        for x, y in points:
            rows.append(
                {
                    "suite": "scaling",
                    "device": device,
                    "name": f"{knob}={x}",
                    "knob": knob,
                    "x": x,
                    "step_ms": y * 1e3,
                    "fitted_exponent": exponent,
                }
            )
    return rows


# ----- 4. generation ----------------------------------------------------------------------------------


def generation_suite(device, quick):
    """Tokens per second generating one sequence that fills the context, with and without the KV cache."""
    return [_generation_row(name, device, quick) for name in (["small"] if quick else ["small", "medium"])]


def _generation_row(name, device, quick):
    c = MODEL_CONFIGS[name]
    config = GPTConfig(
        vocab_size=c["vocab"], block_size=c["block"], n_embd=c["n_embd"], n_head=c["n_head"], n_layer=c["n_layer"]
    )
    tensor.manual_seed(0)
    model = GPT(config).to(device).eval()
    prompt = tensor.zeros(1, 1, dtype=tensor.long, device=device)
    new_tokens = c["block"] - 1  # fill the context once: where the cache helps most
    times = interleaved_medians(
        {
            "cache": lambda: model.generate(prompt, new_tokens, use_cache=True),
            "no_cache": lambda: model.generate(prompt, new_tokens, use_cache=False),
        },
        repeats=2 if quick else 3,
        warmup=1,
        device=device,
    )
    return {
        "suite": "generation",
        "device": device,
        "name": f"{name}, {new_tokens} tokens",
        "tokens_per_s_cache": new_tokens / times["cache"],
        "tokens_per_s_no_cache": new_tokens / times["no_cache"],
        "speedup": times["no_cache"] / times["cache"],
    }
