"""nn's engine room: stand-ins for the fused ops of nn.functional, registered through tensor/kernels.py.

Importing this package (nn/__init__.py does) registers each stand-in under the name of its device,
in this order, which is the order the benchmarks' ladder adds them in:

    row blocks                 Softmax, LogSoftmax, CrossEntropy, LayerNorm, ScaledDotProductAttention
                               computed in cache-sized blocks of rows, with BLAS row sums (blocked.py, rows.py)
    batched Linear gradients   the Linears that read one input run their gradient products as one (linear.py)
    flat embedding gradient    Embedding's gradient as a scatter-add over one dimension, and its index check
                               recorded while a CUDA graph is captured (embedding.py)
    fused GELU                 GELU in few passes over memory, its derivative computed in forward (gelu.py)

In reference mode (TINYGRAD_GPT_KERNELS=reference, tensor.kernels.set_kernels("reference")) none runs.
"""

from tensor.kernels import register_stand_in

from .. import functional as textbook
from . import blocked, embedding, linear

for name in ("Softmax", "LogSoftmax", "CrossEntropy", "LayerNorm", "ScaledDotProductAttention"):
    register_stand_in(getattr(textbook, name), getattr(blocked, name), "row blocks")
register_stand_in(textbook.Linear, linear.Linear, "batched Linear gradients")
register_stand_in(textbook.Embedding, embedding.Embedding, "flat embedding gradient")

# last, in the ladder's order: the fused GELU registers itself; the into forms are what tensor.compile's replay
# writes into its buffers (tensor/fast/replay.py)
from . import gelu, into_forms  # noqa: E402, F401
