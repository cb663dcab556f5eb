"""Embedding's gradient as a scatter-add over one dimension: the engine room's stand-in for
nn.functional.Embedding.

The textbook adds each output gradient row into the weight's row of its token (np.add.at over
rows). Here each gradient element is added into the flattened weight at token * dim + column: the
same sums, as a scatter-add over one dimension, which NumPy runs faster than over rows.
"""

from tensor.backend import scatter_add

from .. import functional as textbook


class Embedding(textbook.Embedding):
    def backward(self, grad):
        xp = self.xp
        (indices,) = self.saved
        dim = self.weight_shape[1]
        dweight = xp.zeros(self.weight_shape[0] * dim, dtype=grad.dtype)
        positions = (indices.reshape(-1, 1) * dim + xp.arange(dim)).reshape(-1)
        scatter_add(dweight, positions, grad.reshape(-1))
        return dweight.reshape(self.weight_shape), None  # the indices get no gradient
