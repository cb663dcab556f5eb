"""Write docs/pytorch_api.md: which PyTorch names exist here, which do not, and where semantics differ on purpose.

Run from the repository root:  python docs/make_pytorch_api.py
tests/conformance/test_pytorch_api_doc.py checks that the page is current and that every
name listed really is PyTorch's.
"""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "pytorch_api.md"

# PyTorch namespace -> (our module, PyTorch names a learner's program is likely to use)
NAMESPACES = {
    "torch": (
        "tensor",
        "manual_seed tensor zeros ones full empty arange linspace rand randn randint randperm tril triu stack cat concat "
        "where multinomial allclose isclose equal all any abs round norm no_grad enable_grad is_grad_enabled "
        "float32 float64 float double long int64 int int32 bool Tensor from_numpy split chunk topk exp log sqrt tanh "
        "sigmoid relu sin cos erf matmul sum mean var std max min argmax argmin unbind maximum minimum softmax log_softmax reshape "
        "transpose permute flatten unsqueeze squeeze masked_fill zeros_like ones_like get_rng_state set_rng_state "
        "FloatTensor DoubleTensor LongTensor IntTensor BoolTensor "
        "device float16 bfloat16 int8 uint8 argsort sort cumsum clamp clip einsum bmm gather scatter "
        "full_like rand_like randn_like empty_like eye outer diag log1p expm1 pow sign isnan isinf nan_to_num "
        "save load compile set_default_dtype get_default_dtype manual_seed inference_mode autograd "
        "Generator default_generator seed initial_seed random flip roll histogram logsumexp log10 reciprocal",
    ),
    "torch.Tensor": (
        "tensor.Tensor",
        "shape ndim dtype device size numel dim item tolist numpy to cpu cuda float double int long bool detach "
        "clone requires_grad_ backward grad zero_ exp log sqrt tanh sigmoid relu abs sin cos erf sum mean var std norm "
        "max min amax amin argmax argmin all any softmax log_softmax view reshape transpose permute unsqueeze "
        "squeeze flatten expand contiguous masked_fill T grad_fn is_leaf add sub mul div matmul pow split chunk topk "
        "__index__ __format__ __int__ __float__ __len__ __iter__ __getitem__ __setitem__ "
        "is_contiguous view_as expand_as repeat gather scatter_ sort argsort cumsum clamp clamp_ fill_ copy_ "
        "masked_fill_ add_ mul_ sub_ div_ type_as new_zeros new_ones new_tensor data_ptr stride storage_offset "
        "half bfloat16 retain_grad register_hook is_floating_point element_size unbind flip roll "
        "data retains_grad nelement log10 logsumexp tril triu pow_ normal_ uniform_ reciprocal",
    ),
    "torch.nn": (
        "nn",
        "Module Parameter Linear Embedding LayerNorm Dropout ReLU GELU Tanh Sequential ModuleList ModuleDict "
        "MultiheadAttention Softmax Sigmoid SiLU BatchNorm1d Conv1d Conv2d RMSNorm Identity CrossEntropyLoss "
        "MSELoss ParameterList ParameterDict init functional utils Flatten",
    ),
    "torch.nn.Module": (
        "nn.Module",
        "parameters named_parameters modules named_modules children named_children apply train eval training to "
        "zero_grad state_dict load_state_dict register_buffer register_parameter buffers named_buffers forward "
        "__call__ cuda cpu float double extra_repr add_module get_submodule requires_grad_ half "
        "register_forward_hook",
    ),
    "torch.nn.functional": (
        "nn.functional",
        "softmax log_softmax cross_entropy layer_norm gelu relu tanh dropout scaled_dot_product_attention linear "
        "embedding mse_loss nll_loss silu sigmoid one_hot pad normalize binary_cross_entropy",
    ),
    "torch.nn.init": (
        "nn.init",
        "normal_ zeros_ ones_ xavier_uniform_ xavier_normal_ kaiming_uniform_ kaiming_normal_ uniform_ trunc_normal_",
    ),
    "torch.nn.utils": ("nn.utils", "clip_grad_norm_ clip_grad_value_ parameters_to_vector vector_to_parameters"),
    "torch.utils.data": (
        "tensor.utils.data",
        "Dataset TensorDataset IterableDataset Subset ConcatDataset DataLoader Sampler SequentialSampler "
        "RandomSampler SubsetRandomSampler BatchSampler WeightedRandomSampler random_split default_collate "
        "default_convert get_worker_info",
    ),
    "torch.optim": ("tensor.optim", "SGD Adam AdamW Optimizer lr_scheduler RMSprop Adagrad"),
    "torch.optim.lr_scheduler": (
        "tensor.optim.lr_scheduler",
        "LambdaLR StepLR MultiStepLR ExponentialLR LinearLR CosineAnnealingLR SequentialLR ReduceLROnPlateau OneCycleLR",
    ),
    "torch.autograd": ("tensor.autograd", "backward grad Function no_grad enable_grad set_grad_enabled"),
    "torch.random": ("tensor.random", "manual_seed seed initial_seed get_rng_state set_rng_state"),
    "torch.cuda": (
        "tensor.cuda",
        "is_available device_count current_device get_device_name synchronize memory_allocated "
        "max_memory_allocated memory_usage empty_cache manual_seed manual_seed_all seed seed_all initial_seed "
        "reset_peak_memory_stats "
        "CUDAGraph graph is_current_stream_capturing make_graphed_callables",
    ),
}

DIFFERENCES = [
    (
        "`import tensor as torch`, `import nn`",
        "`torch.nn` is a separate package here: `tensor` never imports `nn` "
        "(the layering tensor <- nn <- tinygrad_gpt), so `torch.nn.utils.clip_grad_norm_` is spelled "
        "`nn.utils.clip_grad_norm_`.",
    ),
    (
        "`Tensor.data`",
        "a Tensor sharing the storage, outside autograd, as PyTorch's (the course's `.data += -lr * .grad` "
        "update works; `.data = t` swaps the storage). The raw NumPy (or CuPy) array is `Tensor._array` "
        "(and `numpy()`).",
    ),
    (
        "writing a value that requires grad into an integer or bool tensor in grad mode as a fill (`fill_(v)`, "
        "`masked_fill_(m, v)`, `x[key] = v` with a 0-d `v` where `x[key]` is not 0-d, or a mask key)",
        "refused with a RuntimeError naming the dtype. PyTorch records the write, marks the integer tensor "
        "requires_grad=True with a grad_fn, and then refuses every op that records on it "
        '("Autograd not support dtype") and every backward through it. The writes PyTorch does not record '
        "(`copy_(v)`, `x[key] = v` of the region's own shape) are plain writes, as there.",
    ),
    (
        "`requires_grad_()` on a tensor that has views made in grad mode while it did not require grad",
        "those views keep requires_grad=False here. PyTorch's then require grad but stay leaves that pass no "
        "gradient to the base and get no `.grad` (as a view made under no_grad), until an in-place write to the "
        "storage, after which they are rebuilt with a history into the base (AsStridedBackward0; a piece of "
        "`split`, `chunk` or `unbind` is refused instead). Views made under no_grad follow the flag here too. "
        "Following it for views made in grad mode would make every view of a tensor outside the graph (each "
        "slice of a training batch, the targets' `view(-1)`) register with its storage in every training step, "
        "and the rebuilt history is an op of its own.",
    ),
    (
        "memory layout of an elementwise op's result when its operands are laid out differently (one transposed "
        "or permuted, the other row-major)",
        "NumPy's layout here (row-major where the operands disagree), where PyTorch's follows the first operand. "
        "The values agree; flattening such a result (`(x.T - y).view(-1)`, `.reshape(-1)`, `.flatten()`) gives a "
        "view here where PyTorch refuses `view` or makes a copy. Following PyTorch would mean choosing every op's "
        "output strides as PyTorch's TensorIterator does. A result of operands laid out alike (both transposed, "
        "or an op of one operand), and `clone()`, keep PyTorch's layout.",
    ),
    (
        "`register_hook` on a leaf",
        "the hook sees each gradient flowing into the leaf before it is added to `.grad` (PyTorch's sees their sum); "
        "the same for a hook that is linear in the gradient.",
    ),
    (
        "`save` / `load`",
        "a file of ours without pickle (a NumPy .npz of arrays plus a JSON document), for tensors and nested "
        "dicts, lists and tuples of tensors, numbers, strings and None (state dicts, optimizer state): not a "
        "whole model, and `f` is a path (no file objects). PyTorch's pickle files are refused with the way over "
        "(safetensors, through `nn.load`). `map_location` takes a device name or `tensor.device`.",
    ),
    (
        "`inference_mode`",
        "as `no_grad` (context and decorator); tensors made inside are ordinary tensors, not inference tensors.",
    ),
    ("`autograd.grad`", "`create_graph=True` (gradients of gradients) raises NotImplementedError."),
    (
        "`Generator.get_state()`, `get_rng_state()`",
        "a plain dict (the Mersenne Twister's words and position on CPU, a seed and a count of draws on CUDA), not a byte tensor.",
    ),
    ("`Tensor.shape`, `size()`", "a plain tuple, where PyTorch returns `torch.Size` (a tuple subclass)."),
    (
        "dtypes",
        "NumPy dtypes that print as `tensor.float32`; they compare equal to `numpy.float32` and strings such "
        'as "float32". Only float32, float64, int32, int64 and bool exist.',
    ),
    (
        "`tensor.cuda` without a GPU",
        "returns 0 (counts, memory) or None (`empty_cache`) as PyTorch's CPU build; "
        "`current_device`, `get_device_name`, `synchronize`, `memory_usage` raise AssertionError (PyTorch's CPU build "
        "raises AssertionError for the first three). With a GPU they ask CuPy; `max_memory_allocated` is the size of "
        "CuPy's memory pool (its peak since `empty_cache`), and `memory_usage` (NVML) is not supported.",
    ),
    (
        "CUDA graphs",
        "`tensor.cuda.CUDAGraph` and `tensor.cuda.graph(g)` record and replay GPU work as PyTorch's do, with "
        "`Adam(..., capturable=True)` for the optimizer step. Differences: nothing captured may draw random "
        "numbers (a RuntimeError: PyTorch's generators register with the graph, ours would repeat the captured "
        "draw), so capture with dropout off; embedding's index check is recorded and read by `replay()`, "
        "which therefore waits for the replay and raises the IndexError after it; `pool` and "
        "`capture_error_mode` arguments do not exist (each capture has a pool of its own). Without a GPU, "
        "`CUDAGraph()` is made and capturing raises (PyTorch's CPU build raises at `CUDAGraph()`), and "
        "`is_current_stream_capturing()` is False (PyTorch's CPU build raises).",
    ),
    (
        "legacy constructors",
        "`FloatTensor(*sizes)` and friends are functions; the sized form gives zeros "
        "(PyTorch's is uninitialized memory), and `isinstance(x, torch.FloatTensor)` is not supported.",
    ),
    (
        "random numbers",
        "the CPU generator is PyTorch's Mersenne Twister, seeded as PyTorch seeds it, and `randperm` "
        "(so `random_split` with a generator, and a split made by `manual_seed` then `randperm`, as makemore "
        "and minGPT's adder make theirs) gives PyTorch's order for the same seed. Every other draw (`rand`, "
        "`randn`, `randint`, `multinomial`, dropout) turns the stream into numbers by NumPy's methods: the "
        'same seed gives different values from PyTorch\'s. On "cuda", randperm is the order that sorts '
        "uniform draws (PyTorch's CUDA order differs from its CPU one too).",
    ),
    (
        "`torch.utils.data.DataLoader`",
        "loads in the calling process: `num_workers`, `pin_memory`, `timeout`, `worker_init_fn`, "
        "`prefetch_factor` and `persistent_workers` are accepted and change nothing.",
    ),
    (
        "`torch.utils.tensorboard`",
        "`SummaryWriter` has `add_scalar`, `add_scalars`, `flush`, `close` and writes through the `tensorboard` "
        'package, an optional extra (`pip install -e ".[tensorboard]"`), as PyTorch needs it too.',
    ),
    ("`multinomial`", "draws with NumPy (inverse CDF, or Gumbel top-k without replacement)."),
    (
        "course models (tinygrad_gpt)",
        "follow the course, not the paper: HeadVer4/MultiHeadVer2 scale scores by "
        "C**-0.5 (C the embedding width); the course LayerNorm divides by the unbiased std + 1e-6; BlockVer3/4 are "
        "post-LN by default (docs/lessons.md).",
    ),
]


def _owner(module_path):
    if module_path == "nn.Module":  # an instance: `training` is set in __init__, as PyTorch's
        return importlib.import_module("nn").Module()
    try:
        return importlib.import_module(module_path)
    except ImportError:
        parent, _, attribute = module_path.rpartition(".")
        return getattr(importlib.import_module(parent), attribute)


def table():
    """namespace -> (present names, missing names), in the order listed above."""
    result = {}
    for namespace, (module_path, names) in NAMESPACES.items():
        owner = _owner(module_path)
        listed = list(dict.fromkeys(names.split()))
        result[namespace] = ([n for n in listed if hasattr(owner, n)], [n for n in listed if not hasattr(owner, n)])
    return result


def render():
    lines = [
        "# PyTorch names in this project",
        "",
        "Generated by `python docs/make_pytorch_api.py`; `tests/conformance/test_pytorch_api_doc.py` checks that it",
        "is current. The names are those a learner's PyTorch program is likely to use; `tests/conformance/` compares",
        "the present ones with PyTorch itself (`python -m pytest tests/conformance`, needs `pip install torch`).",
        "",
    ]
    for namespace, (present, missing) in table().items():
        module_path = NAMESPACES[namespace][0]
        lines += [f"## `{namespace}` (here: `{module_path}`)", ""]
        lines += [f"Present ({len(present)}): " + ", ".join(f"`{n}`" for n in present), ""]
        lines += [f"Missing ({len(missing)}): " + (", ".join(f"`{n}`" for n in missing) or "none"), ""]
    lines += ["## Where the semantics differ on purpose", ""]
    lines += [f"- {what}: {why}" for what, why in DIFFERENCES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")
