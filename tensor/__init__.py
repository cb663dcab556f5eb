"""tensor: a reverse-mode autograd engine on NumPy (CPU) and CuPy (GPU).

The namespace mirrors PyTorch's, so `import tensor as torch` reads naturally:

    import tensor as torch
    x = torch.randn(3, 4, requires_grad=True)
    loss = (x @ x.T).relu().sum()
    loss.backward()          # x.grad now holds d(loss)/dx

tensor.set_kernels("reference") (or TINYGRAD_GPT_KERNELS=reference) runs the textbook only; "fast", the
default, lets the engine room (tensor/fast/, nn/fast/) stand in for the ops it speeds up (tensor/kernels.py).
"""

from . import cuda, optim, random, utils, viz
from .autograd import Function
from .backend import device
from .course_ops import cumsum, flip, histogram, inference_mode, log10, logsumexp, roll, sort
from .creation import (
    BoolTensor,
    DoubleTensor,
    FloatTensor,
    IntTensor,
    LongTensor,
    arange,
    cat,
    clamp,
    clip,
    concat,
    empty,
    from_numpy,
    full,
    linspace,
    multinomial,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    stack,
    tensor,
    tril,
    triu,
    zeros,
    zeros_like,
)
from .dtypes import bool_ as bool
from .dtypes import float32, float64, int32, int64
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradcheck_directional
from .kernels import get_kernels, set_kernels
from .profiler import profile
from .random import (
    Generator,
    default_generator,
    generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from .serialization import load, save
from .tensor import Tensor, where
from .torch_functions import (
    abs,
    all,
    allclose,
    amax,
    amin,
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
    reciprocal,
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

float = float32
double = float64
long = int64
int = int32

# The engine room (tensor/fast/): importing it registers its stand-ins, which run in fast mode only.
# set_num_threads belongs to its BLAS thread policy; its docstring says what it does in reference mode.
from . import fast  # noqa: E402
from .fast.compile import compile  # noqa: A004, E402  torch.compile's name; in reference mode it returns its argument
from .fast.threads import get_num_threads, set_num_threads  # noqa: E402
