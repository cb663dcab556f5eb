"""nn: modules, layers and fused functional ops built on tensor/ (the torch.nn of this project).

import tensor as torch
import nn
import nn.functional as F
"""

# fast: the engine room, whose import registers its stand-ins of nn.functional's ops (tensor/kernels.py)
from . import composed, fast, functional, init, utils  # noqa: F401
from .attention import MultiHeadAttention, bidirectional_mask, causal_mask, padding_mask, prefix_lm_mask
from .batchnorm import BatchNorm1d
from .layers import GELU, Dropout, Embedding, Flatten, Identity, LayerNorm, Linear, ReLU, Sigmoid, Tanh
from .loss import CrossEntropyLoss, MSELoss
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .serialization import load, save

__all__ = [
    "BatchNorm1d",
    "CrossEntropyLoss",
    "Flatten",
    "GELU",
    "Identity",
    "MSELoss",
    "Sigmoid",
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
