"""nn: modules, layers and fused functional ops built on tensor/ (the torch.nn of this project).

import tensor as torch
import nn
import nn.functional as F
"""

from . import composed, functional, init, utils
from .attention import MultiHeadAttention, bidirectional_mask, causal_mask, padding_mask, prefix_lm_mask
from .fast import gelu as _fast_gelu  # noqa: F401  registers the fused GELU stand-in (tensor/kernels.py)
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU, Tanh
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .serialization import load, save

__all__ = [
    "GELU",
    "Dropout",
    "Embedding",
    "LayerNorm",
    "Linear",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiHeadAttention",
    "Parameter",
    "ReLU",
    "Sequential",
    "Tanh",
    "bidirectional_mask",
    "causal_mask",
    "composed",
    "functional",
    "init",
    "load",
    "padding_mask",
    "prefix_lm_mask",
    "save",
    "utils",
]
