"""tensor: a reverse-mode autograd engine on NumPy (CPU) and CuPy (GPU).

The namespace mirrors PyTorch's, so `import tensor as torch` reads naturally:

    import tensor as torch
    x = torch.randn(3, 4, requires_grad=True)
    loss = (x @ x.T).relu().sum()
    loss.backward()          # x.grad now holds d(loss)/dx
"""

from . import cuda, optim, utils, viz
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import device
from .creation import (
    BoolTensor,
    DoubleTensor,
    FloatTensor,
    IntTensor,
    LongTensor,
    arange,
    cat,
    concat,
    empty,
    from_numpy,
    full,
    generator,
    get_rng_state,
    linspace,
    manual_seed,
    multinomial,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    set_rng_state,
    stack,
    tensor,
    tril,
    triu,
    where,
    zeros,
    zeros_like,
)
from .dtypes import bool_ as bool
from .dtypes import float32, float64, int32, int64
from .fast.threads import get_num_threads, set_num_threads
from .functions import (
    abs,
    all,
    allclose,
    any,
    argmax,
    argmin,
    chunk,
    cos,
    equal,
    erf,
    exp,
    flatten,
    isclose,
    log,
    log_softmax,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    norm,
    permute,
    pow,
    relu,
    reshape,
    round,
    sigmoid,
    sin,
    softmax,
    split,
    sqrt,
    squeeze,
    std,
    sum,
    tanh,
    topk,
    transpose,
    unbind,
    unsqueeze,
    var,
)
from .gradcheck import GradcheckError, gradcheck, gradcheck_directional
from .profiler import profile
from .tensor import Tensor

float = float32
double = float64
long = int64
int = int32
