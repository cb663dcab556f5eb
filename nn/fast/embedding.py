"""Embedding's gradient as a scatter-add over one dimension, and its index check inside a CUDA graph:
the engine room's stand-in for nn.functional.Embedding.

The textbook adds each output gradient row into the weight's row of its token (np.add.at over
rows). Here each gradient element is added into the flattened weight at token * dim + column: the
same sums, as a scatter-add over one dimension, which NumPy runs faster than over rows.

The textbook checks the indices by reading one bool back from the device. While a CUDA graph is
captured nothing may be read: the check is recorded instead, and each replay reads its answer
(tensor.cuda.CUDAGraph).
"""

import numpy as np

import tensor
from tensor.backend import scatter_add

from .. import functional as textbook


class Embedding(textbook.Embedding):
    def forward(self, weight, indices):
        size = weight.shape[0]
        capture = tensor.backend.graph_capture
        if capture is not None and self.xp is not np:  # recorded: each replay checks, then reads
            message = f"embedding: index {{}} is out of range for {size} embeddings (valid: 0 to {size - 1})"
            capture._check_indices_on_replay(message, (indices < 0) | (indices >= size), indices)
        else:
            textbook._check_indices("embedding: index", indices, size, "embeddings")
        self.save_for_backward(indices)
        self.weight_shape = weight.shape
        return weight[indices]

    def backward(self, grad):
        xp = self.xp
        (indices,) = self.saved
        dim = self.weight_shape[1]
        dweight = xp.zeros(self.weight_shape[0] * dim, dtype=grad.dtype)
        positions = (indices.reshape(-1, 1) * dim + xp.arange(dim)).reshape(-1)
        scatter_add(dweight, positions, grad.reshape(-1))
        return dweight.reshape(self.weight_shape), None  # the indices get no gradient
