"""Optimizers with PyTorch's update formulas, defaults and state_dict layout.

Each step updates `param.data` in place from `param.grad`; no graph is built.
"""

import math

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
                p.grad = None
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
                if isinstance(value, Tensor):
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


class Adam(Optimizer):
    """Adam (Kingma & Ba): moving averages m, v of g and g**2, bias-corrected;
    p -= lr * m_hat / (sqrt(v_hat) + eps). weight_decay adds L2 to the gradient."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
    decoupled_weight_decay = False

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        if group["weight_decay"]:
            if self.decoupled_weight_decay:
                param.data *= 1 - group["lr"] * group["weight_decay"]
            else:
                grad = grad + group["weight_decay"] * param.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = param._xp.zeros_like(param.data)
            state["exp_avg_sq"] = param._xp.zeros_like(param.data)
        state["step"] += 1
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        squared = grad * grad
        squared *= 1 - beta2
        exp_avg_sq += squared
        bias_correction1 = 1 - beta1 ** state["step"]
        bias_correction2 = 1 - beta2 ** state["step"]
        # update = lr / bc1 * exp_avg / (sqrt(exp_avg_sq / bc2) + eps), built in one array, in place
        update = param._xp.sqrt(exp_avg_sq, out=squared)
        update *= 1 / math.sqrt(bias_correction2)
        update += group["eps"]
        param._xp.divide(exp_avg, update, out=update)
        update *= group["lr"] / bias_correction1
        param.data -= update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * wd before the Adam step."""

    defaults = {**Adam.defaults, "weight_decay": 1e-2}
    decoupled_weight_decay = True
