"""Optimizers with PyTorch's update rules, defaults, argument checks and state_dict layout.

Each optimizer's `_update` is its update rule for one parameter, line by line as the algorithm in the
paper (and in PyTorch's documentation), in plain array operations; `step` applies it to every parameter
that has a gradient. No graph is built: parameters and their state change in place.
"""

from ..kernels import replaceable
from ..tensor import Tensor


@replaceable  # the engine room keeps the arrays let go of, for the next backward (tensor/fast/grad_buffers.py)
def clear_grads(params, set_to_none=True):
    """zero_grad, of an optimizer and of an nn.Module: every parameter's .grad = None, or with
    set_to_none=False its values zeroed in place (the Tensor stays)."""
    for p in params:
        if set_to_none:
            p.grad = None
        elif p.grad is not None:
            p.grad.zero_()


def _check_at_least_zero(what, value):
    if not value >= 0:
        raise ValueError(f"Invalid {what}: {value}")


def _refuse_unsupported(name, differentiable, fused):
    """PyTorch's options that this library does not implement: an error, never a silent difference."""
    if differentiable:
        raise NotImplementedError(f"{name}(differentiable=True): optimizer steps here are never recorded by autograd")
    if fused:
        raise NotImplementedError(f"{name}(fused=True) is not implemented here; leave fused=None")


class Optimizer:
    """Holds param_groups (lists of parameters with their hyperparameters) and per-parameter state."""

    def __init__(self, params, defaults):
        self.defaults = defaults
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
        clear_grads(self._params(), set_to_none)

    def step(self):
        for group in self.param_groups:
            self._step_group(group)

    def _step_group(self, group):
        """Apply the update rule to each parameter of `group` that has a gradient."""
        for p in group["params"]:
            if p.grad is not None:
                self._update(p, p.grad._array, self.state.setdefault(id(p), {}), group)

    def _update(self, param, grad, state, group):
        """The update rule for one parameter: param._array and `state` (a dict of arrays) change in place."""
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
                    value = value.to(p.device)._array.astype(p.dtype, copy=True)
                restored[name] = value
            self.state[id(p)] = restored


class SGD(Optimizer):
    """Stochastic gradient descent, as PyTorch's SGD (momentum as in Sutskever et al., 2013):

    g = -grad if maximize else grad
    g = g + weight_decay * p                              (an L2 penalty)
    with momentum:  b = g on the first step, then b = momentum * b + (1 - dampening) * g
                    g = g + momentum * b if nesterov else b
    p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):  # fmt: skip
        _check_at_least_zero("learning rate", lr)
        _check_at_least_zero("momentum value", momentum)
        _check_at_least_zero("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _refuse_unsupported("SGD", differentiable, fused)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        defaults.update(maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param._array
        momentum = group["momentum"]
        if momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = param._xp.array(grad)  # a copy, an array also for a 0-d parameter
            else:
                b = state["momentum_buffer"]
                b[...] = momentum * b + (1 - group["dampening"]) * grad
            b = state["momentum_buffer"]
            grad = grad + momentum * b if group["nesterov"] else b
        param._array -= group["lr"] * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, Algorithm 1), as PyTorch's Adam; t counts the steps taken:

        g = -grad if maximize else grad
        g = g + weight_decay * p                              (an L2 penalty; with decoupled_weight_decay,
                                                               AdamW's p = p - lr * weight_decay * p instead)
        m = beta1 * m + (1 - beta1) * g                       (moving average of the gradient)
        v = beta2 * v + (1 - beta2) * g * g                   (... and of its square)
        with amsgrad (Reddi et al., 2018): v_max = max(v_max, v), used in place of v below
        m_hat = m / (1 - beta1 ** t),  v_hat = v / (1 - beta2 ** t)     (the bias corrections)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    foreach is accepted and changes nothing: in fast mode the engine room takes a group's parameters together
    anyway. capturable=True (PyTorch's flag for CUDA graphs) needs the parameters on "cuda", as PyTorch's
    does; in fast mode it keeps t on the GPU, so that a replayed CUDA graph counts its steps; in reference
    mode, which has no CUDA graphs, the numbers are the same either way.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):  # fmt: skip
        _check_at_least_zero("learning rate", lr)
        _check_at_least_zero("epsilon value", eps)
        for index, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        _check_at_least_zero("weight_decay value", weight_decay)
        _refuse_unsupported(type(self).__name__, differentiable, fused)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        defaults.update(foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused)
        super().__init__(params, {**defaults, "decoupled_weight_decay": decoupled_weight_decay})

    # the engine room may take a group's steps together, on flat arrays or in one GPU kernel (tensor/fast/adam.py)
    _step_group = replaceable(Optimizer._step_group)

    def _update(self, param, grad, state, group):
        xp = param._xp
        if not state:
            self._init_state(param, state, group)
        beta1, beta2 = group["betas"]
        lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        t = state["step"]
        if weight_decay != 0 and group["decoupled_weight_decay"]:  # AdamW: the weights shrink apart from the gradient
            param._array *= 1 - lr * weight_decay
        elif weight_decay != 0:  # Adam: an L2 penalty, added to the gradient
            grad = grad + weight_decay * param._array
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m[...] = beta1 * m + (1 - beta1) * grad
        v[...] = beta2 * v + (1 - beta2) * grad * grad
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            v_max[...] = xp.maximum(v_max, v)
            v = v_max
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        param._array -= lr * m_hat / (xp.sqrt(v_hat) + eps)

    @staticmethod
    def _init_state(param, state, group):
        """A parameter's state before its first step: t = 0 and moving averages of zeros."""
        if group["capturable"] and param.device != "cuda":
            raise RuntimeError(
                f"capturable=True keeps Adam's step count on the GPU, for CUDA graphs: "
                f"a parameter of shape {param.shape} is on '{param.device}' (use capturable=False there)"
            )
        zeros = param._xp.zeros_like
        state.update(step=0, exp_avg=zeros(param._array), exp_avg_sq=zeros(param._array))
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros(param._array)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): p = p - lr * weight_decay * p before
    the Adam step, in place of Adam's L2 term; weight_decay 1e-2 by default, as PyTorch's."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):  # fmt: skip
        options = dict(maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, **options, fused=fused, decoupled_weight_decay=True
        )
