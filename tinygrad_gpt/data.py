"""Text corpora, the train/validation split, and random batches.

The built-in corpus needs no download: the documentation text that ships inside
every CPython (`pydoc_data.topics`, about 470,000 characters of English prose and
Python examples). `load_text(path)` reads any UTF-8 file instead, e.g. tiny
Shakespeare (https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt).
"""

import os

import numpy as np

import tensor


def builtin_corpus():
    """The pydoc topics of this Python, in a fixed order."""
    from pydoc_data import topics

    return "\n\n".join(topics.topics[name] for name in sorted(topics.topics))


def load_text(path):
    """Read a UTF-8 text file, with clear errors for folders, missing, empty and non-UTF-8 files.

    A byte-order mark at the start (some editors write one) is dropped: it is not text.
    """
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder: give one UTF-8 text file")
    try:
        with open(path, encoding="utf-8-sig") as file:
            text = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    if not text:
        raise ValueError(f"{path} is empty")
    return text


class Dataset:
    """A corpus encoded as token ids, split 90/10 into train and validation."""

    def __init__(self, tokens, block_size, train_fraction=0.9):
        tokens = np.asarray(tokens, dtype=np.int64)
        split = int(train_fraction * len(tokens))
        self.block_size = block_size
        self.splits = {"train": tokens[:split], "val": tokens[split:]}
        for name, part in self.splits.items():
            if len(part) <= block_size:
                raise ValueError(
                    f"the {name} split has {len(part)} tokens, but a batch needs more than block_size = {block_size}: "
                    f"use a longer text (this one has {len(tokens)} tokens) or a smaller block size"
                )

    def batch(self, split, batch_size, generator, device="cpu"):
        """(inputs, targets), both (batch_size, block_size); targets are the inputs shifted by one."""
        data = self.splits[split]
        starts = generator.integers(0, len(data) - self.block_size, size=batch_size)
        offsets = np.arange(self.block_size)
        x = data[starts[:, None] + offsets]  # (B, T)
        y = data[starts[:, None] + offsets + 1]  # (B, T)
        return tensor.tensor(x, device=device), tensor.tensor(y, device=device)
