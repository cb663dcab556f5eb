"""A small, seeded training run shared by the lessons that compare models by validation loss."""

import numpy as np

import nn
import tensor
from tensor import optim
from tinygrad_gpt import CharTokenizer, Dataset, builtin_corpus

CORPUS = builtin_corpus()
TOKENIZER = CharTokenizer.from_text(CORPUS)
VOCAB = TOKENIZER.vocab_size
_datasets = {}


def dataset(block_size, text=None):
    key = (block_size, text)
    if key not in _datasets:
        _datasets[key] = Dataset(TOKENIZER.encode(text or CORPUS), block_size)
    return _datasets[key]


@tensor.no_grad()
def mean_loss(model, data, split, batch_size=32, batches=10):
    """Average loss over fixed batches (the same for every model compared)."""
    model.eval()
    generator = np.random.default_rng(12345)
    total = sum(model(*data.batch(split, batch_size, generator))[1].item() for _ in range(batches))
    model.train()
    return total / batches


def train_and_evaluate(make_model, steps, seed, block_size=16, batch_size=32, lr=3e-3, text=None):
    """Train make_model() for `steps` AdamW steps; return (train loss, validation loss)."""
    tensor.manual_seed(seed)
    model = make_model()
    data = dataset(block_size, text)
    optimizer = optim.AdamW(model.parameters(), lr=lr)
    generator = np.random.default_rng(seed)
    for _ in range(steps):
        _, loss = model(*data.batch("train", batch_size, generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return mean_loss(model, data, "train"), mean_loss(model, data, "val")


def count_parameters(module):
    return sum(p.numel() for p in module.parameters())


__all__ = ["VOCAB", "CORPUS", "TOKENIZER", "dataset", "mean_loss", "train_and_evaluate", "count_parameters", "nn"]
