"""Adam's step in the engine room: a group's small parameters together on flat arrays, one GPU kernel per
parameter, and a capturable step count on the GPU. The stand-in of Adam._step_group (tensor/optim/optimizer.py),
tested equal to it (tests/fast/test_tensor_adam.py).

Why: the textbook runs a dozen array operations per parameter, and a small model (the lecture GPT has ~100
parameters) spends its optimizer time on those calls, not on the arithmetic. Here the parameters below
STEP_TOGETHER_BELOW elements take their step together on flat arrays (PyTorch's "foreach" idea), each
in-place; on the GPU each parameter's step is one CuPy ElementwiseKernel launch instead of about fourteen.
maximize and amsgrad have no such path: groups with them take the textbook's step.
"""

import math
import weakref

import numpy as np

from .. import backend, kernels
from ..optim import Adam

STEP_TOGETHER_BELOW = 1 << 14  # elements: smaller parameters take their Adam step together, on flat arrays

# optimizer -> {(state name, id of the first parameter): (flat, its views), and the arrays a step writes its
# temporaries into: (name, shape, dtype) -> a flat array (_flat_work), ("scratch", dtype) -> one (_scratch)}
_flats = weakref.WeakKeyDictionary()


def adam_step_group(optimizer, group):
    """Adam._step_group in fast mode: the same arithmetic, element by element, as the textbook's."""
    if backend.graph_capture is not None and not group["capturable"]:
        raise RuntimeError(
            f"Attempting CUDA graph capture of step() for an instance of {type(optimizer).__name__} but "
            "param_groups' capturable is False: its step count lives on the host, and every replay "
            f"would repeat the captured step's bias corrections; use {type(optimizer).__name__}(..., capturable=True)"
        )
    params = [p for p in group["params"] if p.grad is not None]
    states = [optimizer.state.setdefault(id(p), {}) for p in params]
    for p, state in zip(params, states):
        if not state:
            optimizer._init_state(p, state, group)
        if group["capturable"] and isinstance(state["step"], (int, np.integer)):
            state["step"] = _step_on_device(p, state["step"])
    if group["maximize"] or group["amsgrad"]:
        Adam._step_group.__wrapped__(optimizer, group)
        return
    small = [(p, state) for p, state in zip(params, states) if p._array.size < STEP_TOGETHER_BELOW]
    if len(small) > 1 and params[0].device == "cpu" and _steppable_together(*zip(*small)):
        _step_together(optimizer, *zip(*small), group)
        params_and_states = [(p, state) for p, state in zip(params, states) if p._array.size >= STEP_TOGETHER_BELOW]
    else:
        params_and_states = zip(params, states)
    for p, state in params_and_states:
        state["step"] += 1
        scratch = _scratch(optimizer, p._array) if p.device == "cpu" else None
        adam_arrays(
            p._xp, p._array, p.grad._array, state["exp_avg"], state["exp_avg_sq"], state["step"], group, scratch
        )


def adam_arrays(xp, param, grad, exp_avg, exp_avg_sq, step, group, scratch=None):
    """One Adam step on arrays, in place: param, exp_avg and exp_avg_sq are updated from grad. Its one
    temporary (each term before it is added, then the update) is written into `scratch`, an array of
    param's shape and dtype, or a new one."""
    beta1, beta2 = group["betas"]
    decoupled = group["decoupled_weight_decay"]
    on_host = isinstance(step, (int, np.integer))  # else a 0-d array on the parameter's device (capturable)
    if xp.__name__ != "numpy" and _gpu_adam(xp) is not None:
        decay = group["lr"] * group["weight_decay"] if decoupled else 0.0
        l2 = 0.0 if decoupled else group["weight_decay"]
        if not on_host:  # the bias corrections from the count on the GPU, in the kernel
            arguments = (step, 1 - decay, l2, beta1, beta2, group["lr"], group["eps"])
            _gpu_adam(xp, capturable=True)(grad, *arguments, param, exp_avg, exp_avg_sq)
            return
        step_size, bias2 = group["lr"] / (1 - beta1**step), math.sqrt(1 - beta2**step)
        kernel_arguments = (1 - decay, l2, beta1, beta2, step_size, bias2, group["eps"])
        _gpu_adam(xp)(grad, *kernel_arguments, param, exp_avg, exp_avg_sq)
        return
    if group["weight_decay"]:
        if decoupled:
            param *= 1 - group["lr"] * group["weight_decay"]
        else:
            grad = grad + group["weight_decay"] * param
    if scratch is None:
        scratch = xp.empty_like(param)
    exp_avg *= beta1
    exp_avg += xp.multiply(grad, 1 - beta1, out=scratch)  # (1 - beta1) * grad
    exp_avg_sq *= beta2
    squared = xp.multiply(grad, grad, out=scratch)  # an array also for a 0-d parameter
    squared *= 1 - beta2
    exp_avg_sq += squared
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    # update = lr / bc1 * exp_avg / (sqrt(exp_avg_sq / bc2) + eps), built in one array, in place
    update = xp.sqrt(exp_avg_sq, out=squared)
    update *= 1 / (math.sqrt(bias_correction2) if on_host else xp.sqrt(bias_correction2))
    update += group["eps"]
    xp.divide(exp_avg, update, out=update)
    update *= group["lr"] / bias_correction1
    param -= update


def _step_on_device(param, step):
    """A capturable Adam's step count: a 0-d float64 array on the parameter's GPU."""
    if param.device != "cuda":
        raise RuntimeError(
            f"capturable=True keeps Adam's step count on the GPU, for CUDA graphs: "
            f"a parameter of shape {param.shape} is on '{param.device}' (use capturable=False there)"
        )
    return param._xp.full((), step, dtype=param._xp.float64)


def _step_together(optimizer, params, states, group):
    """The step of every parameter of the list at once: parameters and gradients are copied into one
    flat array each, the moving averages live in flat arrays that each parameter's state views, and one
    Adam step runs over the flat arrays; the parameters get their new values back."""
    params, states, xp = list(params), list(states), params[0]._xp
    flats = _flats.setdefault(optimizer, {})
    exp_avg, exp_avg_sq = (_flat_state(flats, xp, params, states, name) for name in ("exp_avg", "exp_avg_sq"))
    flat_param, flat_grad, scratch = (_flat_work(flats, name, exp_avg) for name in ("param", "grad", "scratch"))
    xp.concatenate([p._array.reshape(-1) for p in params], out=flat_param)
    xp.concatenate([p.grad._array.reshape(-1) for p in params], out=flat_grad)
    for state in states:
        state["step"] += 1
    adam_arrays(xp, flat_param, flat_grad, exp_avg, exp_avg_sq, states[0]["step"], group, scratch)
    start = 0
    for p in params:
        p._array[...] = flat_param[start : start + p._array.size].reshape(p.shape)
        start += p._array.size


def _flat_state(flats, xp, params, states, name):
    """The flat array of which the states' `name` arrays are consecutive views, in the order of
    `params`: the one made on an earlier step, or a new one with their values (on the first step,
    after load_state_dict, or when the parameters with a gradient change)."""
    flat, views = flats.get((name, id(params[0])), (None, ()))
    if len(views) != len(states) or any(state[name] is not view for state, view in zip(states, views)):
        flat, views, start = xp.concatenate([state[name].reshape(-1) for state in states]), [], 0
        for p, state in zip(params, states):
            state[name] = flat[start : start + p._array.size].reshape(p.shape)
            views.append(state[name])
            start += p._array.size
        flats[name, id(params[0])] = flat, views
    return flat


def _flat_work(flats, name, like):
    """A flat array kept for the step together (the parameters', the gradients', the temporary's),
    of `like`'s shape and dtype: written anew at each step, so no step allocates it again."""
    key = (name, like.shape, like.dtype)
    if key not in flats:
        flats[key] = np.empty_like(like)
    return flats[key]


def _scratch(optimizer, param):
    """The temporary of a "cpu" parameter's step: a view of one flat array kept per optimizer and dtype,
    as large as its largest parameter (parameters take their steps one after the other)."""
    flats = _flats.setdefault(optimizer, {})
    key = ("scratch", param.dtype)
    if key not in flats or flats[key].size < param.size:
        flats[key] = np.empty(param.size, param.dtype)
    return flats[key][: param.size].reshape(param.shape)


def _steppable_together(params, states):
    """One dtype, one device and one step count: what a step over flat arrays needs."""
    # one array type is one device
    dtype, array_type, step = params[0]._array.dtype, type(params[0]._array), states[0]["step"]
    return all(p._array.dtype == dtype and type(p._array) is array_type for p in params) and all(
        s["step"] == step for s in states
    )


_gpu_adam_kernels = {}

# Adam's step above, one GPU thread per element: the same formulas with the moments written once each.
_ADAM_MOMENTS_CUDA = """
T g = grad + (T)l2 * param;
exp_avg = (T)beta1 * exp_avg + (T)(1 - beta1) * g;
exp_avg_sq = (T)beta2 * exp_avg_sq + (T)(1 - beta2) * g * g;
"""
# capturable: the bias corrections from the step count on the GPU (the host computes them otherwise)
_ADAM_BIAS_FROM_STEP_CUDA = """
double step_size = lr / (1 - pow(beta1, step));
double bias2 = sqrt(1 - pow(beta2, step));
"""
_ADAM_PARAM_CUDA = """
param = param * (T)shrink - (T)step_size * exp_avg / (sqrt(exp_avg_sq) / (T)bias2 + (T)eps);
"""
_ADAM_KERNELS = {  # capturable -> (inputs, body)
    False: (
        "T grad, float64 shrink, float64 l2, float64 beta1, float64 beta2, float64 step_size, float64 bias2, "
        "float64 eps",
        _ADAM_MOMENTS_CUDA + _ADAM_PARAM_CUDA,
    ),
    True: (
        "T grad, float64 step, float64 shrink, float64 l2, float64 beta1, float64 beta2, float64 lr, float64 eps",
        _ADAM_MOMENTS_CUDA + _ADAM_BIAS_FROM_STEP_CUDA + _ADAM_PARAM_CUDA,
    ),
}


def _gpu_adam(xp, capturable=False):
    """Adam's step as one CuPy ElementwiseKernel: one launch per parameter instead of about fourteen
    (on an H100 the launches, not the arithmetic, are the cost; figures in benchmarks/README.md).
    `shrink` is AdamW's 1 - lr * weight_decay and `l2` Adam's weight_decay; the other is 1 or 0.
    None where the array module compiles no kernels (the CuPy stand-in of the tests): the array
    operations above run instead; tests/fast/test_tensor_adam.py's "cuda" cases on a GPU prove the two agree."""
    if (xp, capturable) not in _gpu_adam_kernels:
        inputs, body = _ADAM_KERNELS[capturable]
        _gpu_adam_kernels[xp, capturable] = (
            xp.ElementwiseKernel(
                inputs,
                "T param, T exp_avg, T exp_avg_sq",
                body,
                "adam_step_capturable" if capturable else "adam_step",
            )
            if hasattr(xp, "ElementwiseKernel")
            else None
        )
    return _gpu_adam_kernels[xp, capturable]


kernels.register_stand_in(Adam._step_group, adam_step_group, "flat Adam step")
