"""Module, Parameter, ModuleList, Sequential: PyTorch's module system.

A Module finds its Parameters, sub-Modules and buffers when they are assigned
as attributes (`self.weight = Parameter(...)`), which is what lets
`parameters()` and `state_dict()` walk the whole tree, with names like
`blocks.0.sa.heads.1.key.weight`.
"""

import difflib
from collections import OrderedDict, namedtuple

import tensor
from tensor import Tensor
from tensor.optim.optimizer import clear_grads

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _with_nearest(key, keys):
    """'key' (did you mean 'nearest'?) with the closest of `keys`, for an unexpected state-dict key."""
    nearest = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    return repr(key) + (f" (did you mean {nearest[0]!r}?)" if nearest else "")


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter (requires grad by default)."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        source = data if isinstance(data, Tensor) else tensor.tensor(data)
        self.data, self.grad, self._ctx, self._spare_grad = source.data, None, None, None
        self._version_counter = source._version_counter  # same storage: in-place writes show in both
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model: subclasses set attributes in __init__ and define forward."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning {name!r}")
        if not isinstance(value, Parameter):  # a replaced parameter or module keeps its place in the state dict
            self._parameters.pop(name, None)
        if not isinstance(value, Module):
            self._modules.pop(name, None)
        if isinstance(value, (Parameter, Module)):
            self._buffers.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(value).__name__}")
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, value, persistent=True):
        """A tensor that belongs to the module's state (moved by .to(), saved unless non-persistent) but is not learned."""
        self._buffers[name] = value
        if not persistent:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, value)

    def register_parameter(self, name, value):
        setattr(self, name, value)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----- walking the tree --------------------------------------------------------------------

    def named_modules(self, prefix=""):
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child) for child_name, child in module._modules.items()
            ]
            stack.extend(reversed(children))

    def modules(self):
        return (module for _, module in self.named_modules())

    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix="", recurse=True):
        """(name, Parameter) pairs; a parameter shared by two modules (weight tying) appears once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, p in module._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix=""):
        for module_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_name}.{name}" if module_name else name), b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    def apply(self, fn):
        """Call fn on every sub-module (children first), then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----- modes, devices, gradients -------------------------------------------------------------

    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, *args, **kwargs):
        """Move (or cast) every parameter and buffer in place; parameters keep their identity."""
        with tensor.no_grad():
            for module in self.modules():
                for p in module._parameters.values():
                    if p is not None:
                        p.data = p.to(*args, **kwargs).data
                        if p.grad is not None:
                            p.grad = p.grad.to(*args, **kwargs)
                for name, b in module._buffers.items():
                    if b is not None:
                        module._buffers[name] = moved = b.to(*args, **kwargs)
                        object.__setattr__(module, name, moved)
        return self

    def cuda(self):
        return self.to("cuda")

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(tensor.float32)

    def double(self):
        return self.to(tensor.float64)

    def zero_grad(self, set_to_none=True):
        clear_grads(self.parameters(), set_to_none)

    # ----- state dict ------------------------------------------------------------------------------

    def state_dict(self):
        """Name -> tensor for every parameter and persistent buffer, with PyTorch's key names."""
        state = OrderedDict()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    state[prefix + name] = p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent_buffers:
                    state[prefix + name] = b.detach()
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy tensors into this module's parameters and buffers, all or nothing.

        Every key and shape is checked before anything is copied, so a failed load leaves
        the module as it was. strict=True: a missing or unexpected key is an error; a shape
        mismatch always is. The RuntimeError lists only the groups that are not empty, with
        the nearest existing key for each unexpected one. Returns (missing_keys,
        unexpected_keys), as PyTorch's.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append("unexpected keys [" + ", ".join(_with_nearest(k, own) for k in unexpected) + "]")
        values = {}
        for key, target in own.items():
            if key in state_dict:
                value = state_dict[key]
                value = value if isinstance(value, Tensor) else tensor.tensor(value)
                if value.shape != target.shape:
                    problems.append(
                        f"size mismatch for {key!r}: {value.shape} in the state dict, {target.shape} in the model"
                    )
                else:
                    values[key] = value.to(target.device).data.astype(target.dtype)
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: " + "; ".join(problems))
        for key, value in values.items():
            own[key].data[...] = value
        return IncompatibleKeys(missing, unexpected)

    # ----- printing ----------------------------------------------------------------------------------

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"


class ModuleList(Module):
    """A list of modules, registered under the names "0", "1", ..."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        return ModuleList(items[index]) if isinstance(index, slice) else items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied one after another: Sequential(a, b)(x) == b(a(x))."""

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleDict(Module):
    """Modules kept by name, registered under those names (state dict keys `<name>.weight`, ...)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for name, module in items:
            self[name] = module

    def __getitem__(self, name):
        return self._modules[name]

    def __setitem__(self, name, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict[{name!r}] must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    def __delitem__(self, name):
        del self._modules[name]
        object.__delattr__(self, name)

    def __contains__(self, name):
        return name in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, name):
        module = self[name]
        del self[name]
        return module
