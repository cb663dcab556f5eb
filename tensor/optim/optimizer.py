"""Optimizers with PyTorch's update formulas, defaults and state_dict layout.

Each step updates `param.data` in place from `param.grad`; no graph is built.
"""

import math

import numpy as np

from .. import backend
from ..tensor import Tensor


class Optimizer:
    """Holds param_groups (lists of parameters with their hyperparameters) and per-parameter state."""

    defaults = {}

    def __init__(self, params, **hyperparameters):
        self.defaults = {**type(self).defaults, **hyperparameters}
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for group in groups:
            group = {**self.defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                if not isinstance(p, Tensor):
                    raise TypeError(f"optimizer params must be Tensors, got {type(p).__name__}")
            self.param_groups.append(group)
        self.state = {}  # id(param) -> dict of state for that parameter

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none=True):
        for p in self._params():
            if set_to_none:
                p._drop_grad()  # p.grad = None, its array kept for the next backward when no one else holds it
            elif p.grad is not None:
                p.grad.zero_()

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.data, self.state.setdefault(id(p), {}), group)

    def _update(self, param, grad, state, group):
        raise NotImplementedError

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as PyTorch lays it out."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {
            index[key]: {name: Tensor._wrap(v.copy()) if hasattr(v, "shape") else v for name, v in s.items()}
            for key, s in self.state.items()
        }
        groups = [{**g, "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        params = self._params()
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(mine["params"]) for g, mine in zip(groups, self.param_groups)
        ):
            raise ValueError("loaded optimizer state has a different number of parameter groups or parameters")
        for group, saved in zip(self.param_groups, groups):
            group.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k != "params"})
        self.state = {}
        for key, saved in state_dict["state"].items():
            p = params[int(key)]
            restored = {}
            for name, value in saved.items():
                if name == "step" and isinstance(value, Tensor):  # a capturable Adam's count, kept on its device
                    value = int(value.item())
                elif isinstance(value, Tensor):
                    if value.shape != p.shape:
                        raise ValueError(
                            f"optimizer state {name!r} of parameter {key} has shape {value.shape}, expected {p.shape}"
                        )
                    value = value.to(p.device).data.astype(p.dtype, copy=True)
                restored[name] = value
            self.state[id(p)] = restored


class SGD(Optimizer):
    """p -= lr * g, with optional L2 weight decay, momentum (with dampening) and Nesterov momentum."""

    defaults = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}

    def _update(self, param, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                buffer = state["momentum_buffer"]
                buffer *= momentum
                buffer += (1 - group["dampening"]) * grad
            buffer = state["momentum_buffer"]
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param.data -= group["lr"] * grad


STEP_TOGETHER_BELOW = 1 << 14  # elements: smaller parameters take their Adam step together, on flat arrays


class Adam(Optimizer):
    """Adam (Kingma & Ba): moving averages m, v of g and g**2, bias-corrected;
    p -= lr * m_hat / (sqrt(v_hat) + eps). weight_decay adds L2 to the gradient.

    A step updates a group's small parameters all at once, on flat arrays (`_step_together`,
    PyTorch's "foreach" idea): the same arithmetic, element by element, as one parameter at a
    time (`_update`), in a dozen array operations per group instead of a dozen per parameter.
    A large parameter takes its own step: copying it into a flat array and back would cost
    more than the calls it saves.

    capturable=True (PyTorch's flag) keeps each parameter's step count on its GPU, as a 0-d array the
    step increments there, and makes the bias corrections from it there: what a CUDA graph needs to
    replay the step (tensor.cuda.CUDAGraph), since a count on the host would be recorded once.
    """

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "capturable": False}
    decoupled_weight_decay = False

    def __init__(self, params, **hyperparameters):
        super().__init__(params, **hyperparameters)
        self._flats = {}  # (state name, id of the first parameter) -> (flat array, its views in order)

    def _update(self, param, grad, state, group):
        state["step"] += 1
        self._adam(param._xp, param.data, grad, state["exp_avg"], state["exp_avg_sq"], state["step"], group)

    def _adam(self, xp, param, grad, exp_avg, exp_avg_sq, step, group):
        """One Adam step on arrays, in place: param, exp_avg and exp_avg_sq are updated from grad."""
        beta1, beta2 = group["betas"]
        on_host = isinstance(step, (int, np.integer))  # else a 0-d array on the parameter's device (capturable)
        if xp.__name__ != "numpy" and _gpu_adam(xp) is not None:
            decay = group["lr"] * group["weight_decay"] if self.decoupled_weight_decay else 0.0
            l2 = 0.0 if self.decoupled_weight_decay else group["weight_decay"]
            if not on_host:  # the bias corrections from the count on the GPU, in the kernel
                arguments = (step, 1 - decay, l2, beta1, beta2, group["lr"], group["eps"])
                _gpu_adam(xp, capturable=True)(grad, *arguments, param, exp_avg, exp_avg_sq)
                return
            step_size, bias2 = group["lr"] / (1 - beta1**step), math.sqrt(1 - beta2**step)
            kernel_arguments = (1 - decay, l2, beta1, beta2, step_size, bias2, group["eps"])
            _gpu_adam(xp)(grad, *kernel_arguments, param, exp_avg, exp_avg_sq)
            return
        if group["weight_decay"]:
            if self.decoupled_weight_decay:
                param *= 1 - group["lr"] * group["weight_decay"]
            else:
                grad = grad + group["weight_decay"] * param
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        squared = grad * grad
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

    def step(self):
        for group in self.param_groups:
            if backend.graph_capture is not None and not group["capturable"]:
                raise RuntimeError(
                    f"Attempting CUDA graph capture of step() for an instance of {type(self).__name__} but "
                    "param_groups' capturable is False: its step count lives on the host, and every replay "
                    f"would repeat the captured step's bias corrections; use {type(self).__name__}(..., capturable=True)"
                )
            params = [p for p in group["params"] if p.grad is not None]
            states = [self.state.setdefault(id(p), {}) for p in params]
            for p, state in zip(params, states):
                if not state:
                    state.update(step=0, exp_avg=p._xp.zeros_like(p.data), exp_avg_sq=p._xp.zeros_like(p.data))
                if group["capturable"] and isinstance(state["step"], (int, np.integer)):
                    state["step"] = self._step_on_device(p, state["step"])
            small = [(p, state) for p, state in zip(params, states) if p.data.size < STEP_TOGETHER_BELOW]
            if len(small) > 1 and params[0].device == "cpu" and _steppable_together(*zip(*small)):
                self._step_together(*zip(*small), group)
                params_and_states = [
                    (p, state) for p, state in zip(params, states) if p.data.size >= STEP_TOGETHER_BELOW
                ]
            else:
                params_and_states = zip(params, states)
            for p, state in params_and_states:
                self._update(p, p.grad.data, state, group)

    @staticmethod
    def _step_on_device(param, step):
        """A capturable Adam's step count: a 0-d float64 array on the parameter's GPU."""
        if param.device != "cuda":
            raise RuntimeError(
                f"capturable=True keeps Adam's step count on the GPU, for CUDA graphs: "
                f"a parameter of shape {param.shape} is on '{param.device}' (use capturable=False there)"
            )
        return param._xp.full((), step, dtype=param._xp.float64)

    def _step_together(self, params, states, group):
        """_update for every parameter of the list at once: parameters and gradients are copied
        into one flat array each, the moving averages live in flat arrays that each parameter's
        state views, and one Adam step runs over the flat arrays; the parameters get their new
        values back. Why: a small model (the lecture GPT has ~100 parameters) spent most of its
        optimizer time on the per-parameter calls, not on the arithmetic."""
        params, states, xp = list(params), list(states), params[0]._xp
        exp_avg, exp_avg_sq = (self._flat_state(xp, params, states, name) for name in ("exp_avg", "exp_avg_sq"))
        flat_param = xp.concatenate([p.data.reshape(-1) for p in params])
        flat_grad = xp.concatenate([p.grad.data.reshape(-1) for p in params])
        for state in states:
            state["step"] += 1
        self._adam(xp, flat_param, flat_grad, exp_avg, exp_avg_sq, states[0]["step"], group)
        start = 0
        for p in params:
            p.data[...] = flat_param[start : start + p.data.size].reshape(p.shape)
            start += p.data.size

    def _flat_state(self, xp, params, states, name):
        """The flat array of which the states' `name` arrays are consecutive views, in the order of
        `params`: the one made on an earlier step, or a new one with their values (on the first step,
        after load_state_dict, or when the parameters with a gradient change)."""
        flat, views = self._flats.get((name, id(params[0])), (None, ()))
        if len(views) != len(states) or any(state[name] is not view for state, view in zip(states, views)):
            flat, views, start = xp.concatenate([state[name].reshape(-1) for state in states]), [], 0
            for p, state in zip(params, states):
                state[name] = flat[start : start + p.data.size].reshape(p.shape)
                views.append(state[name])
                start += p.data.size
            self._flats[name, id(params[0])] = flat, views
        return flat


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
    (on an H100 the launches, not the arithmetic, are the cost: cProfile put the array-operation Adam at
    7.6 ms of a 44 ms medium GPT step; the medium lecture step took 143 ms with a cupy.fuse version, 129 ms with this).
    `shrink` is AdamW's 1 - lr * weight_decay and `l2` Adam's weight_decay; the other is 1 or 0.
    None where the array module compiles no kernels (the CuPy stand-in of the tests): the array
    operations above run instead, and tests/tensor/test_optim.py's "cuda" cases on a GPU prove the two agree."""
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


def _steppable_together(params, states):
    """One dtype, one device and one step count: what a step over flat arrays needs."""
    # one array type is one device
    dtype, array_type, step = params[0].data.dtype, type(params[0].data), states[0]["step"]
    return all(p.data.dtype == dtype and type(p.data) is array_type for p in params) and all(
        s["step"] == step for s in states
    )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * wd before the Adam step."""

    defaults = {**Adam.defaults, "weight_decay": 1e-2}
    decoupled_weight_decay = True
