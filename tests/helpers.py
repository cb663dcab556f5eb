"""The shared gradient-test factory and the Hypothesis strategies it draws from.

`gradient_test(op, ...)` turns "op + domain + shape strategy" into a property test:
Hypothesis draws float64 inputs of mutually broadcastable shapes (size-1 and, where
the op allows, size-0 dims included) from the op's domain, and the test checks the
engine's gradient against central finite differences with a random upstream
gradient (tensor.gradcheck).
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensor

# Each domain keeps an op where it is smooth: a finite difference with eps = 1e-6
# never crosses a kink (relu, abs, max) or leaves the domain (log, sqrt).
DOMAINS = {
    "real": st.floats(-3, 3),
    "positive": st.floats(0.2, 3),
    "nonzero": st.one_of(st.floats(-3, -0.5), st.floats(0.5, 3)),
    # distinct values on a grid 0.1 apart, never 0: no ties, no kink at 0
    "grid": st.integers(-60, 60).filter(lambda k: k != 0).map(lambda k: k / 10),
    # the same grid shifted by 0.05: never equal to a "grid" value
    "offgrid": st.integers(-60, 60).map(lambda k: k / 10 + 0.05),
}


def shapes_strategy(n_inputs, min_side=0, max_side=4, min_dims=0, max_dims=3):
    """Lists of n mutually broadcastable shapes."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n_inputs, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda result: list(result.input_shapes))


def draw_array(data, shape, domain):
    unique = domain in ("grid", "offgrid")
    return data.draw(hnp.arrays(np.float64, shape, elements=DOMAINS[domain], unique=unique))


def as_inputs(arrays, device):
    return [tensor.tensor(a, dtype=tensor.float64, device=device, requires_grad=True) for a in arrays]


def gradient_test(op, n_inputs=1, domain="real", shapes=None, params=None, directional=False):
    """A Hypothesis test: op's gradient equals central finite differences.

    op(*tensors, **params) -> Tensor. `domain` is one name from DOMAINS or one per input.
    `shapes` is a strategy of lists of input shapes (default: mutually broadcastable);
    `params(shapes)` returns a strategy of keyword arguments drawn for those shapes.
    """
    domains = [domain] * n_inputs if isinstance(domain, str) else list(domain)
    shapes = shapes if shapes is not None else shapes_strategy(n_inputs)

    @given(data=st.data())
    def test(data, device):
        input_shapes = data.draw(shapes, label="shapes")
        kwargs = data.draw(params(input_shapes), label="params") if params else {}
        # masks, conditions and targets go where the inputs are, as a user's would
        kwargs = {key: value.to(device) if isinstance(value, tensor.Tensor) else value for key, value in kwargs.items()}
        arrays = [draw_array(data, shape, d) for shape, d in zip(input_shapes, domains)]
        inputs = as_inputs(arrays, device)
        check = tensor.gradcheck_directional if directional else tensor.gradcheck
        assert check(lambda *xs: op(*xs, **kwargs), inputs)

    return test


def dims_strategy(ndim, allow_none=True, allow_tuple=True):
    """A dim argument for a reduction over a tensor of `ndim` dims: None, an int, or a tuple."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return st.one_of(options) if options else st.none()


def reduction_params(shapes, allow_tuple=True):
    ndim = len(shapes[0])
    return st.fixed_dictionaries({"dim": dims_strategy(ndim, allow_tuple=allow_tuple), "keepdim": st.booleans()})
