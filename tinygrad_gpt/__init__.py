"""tinygrad_gpt: the course's GPT, built step by step on nn/ and tensor/.

Read in this order: heads.py (HeadVer1..4, MultiHeadVer1..2), blocks.py (FeedForward,
LayerNorm, BlockVer1..4), models.py (GPTVer1..4 and position encodings), gpt.py (the
full GPT), then tokenizer.py, data.py, train.py, generate.py, cli.py.
"""

from .blocks import BlockVer1, BlockVer2, BlockVer3, BlockVer4, FeedForward, LayerNorm
from .data import Dataset, builtin_corpus, load_text
from .gpt import GPT, Block, GPTConfig
from .heads import HeadVer1, HeadVer2, HeadVer3, HeadVer4, MultiHeadVer1, MultiHeadVer2
from .models import (
    GPTVer1,
    GPTVer2,
    GPTVer3,
    GPTVer4,
    pos_encodings_v1,
    pos_encodings_v2,
    pos_encodings_v3,
    pos_encodings_v4,
)
from .tokenizer import BPETokenizer, CharTokenizer, bits_per_character, tokenizer_from_state_dict
from .train import TrainConfig, train

__all__ = [
    "GPT",
    "Block",
    "BlockVer1",
    "BlockVer2",
    "BlockVer3",
    "BlockVer4",
    "BPETokenizer",
    "CharTokenizer",
    "Dataset",
    "FeedForward",
    "GPTConfig",
    "GPTVer1",
    "GPTVer2",
    "GPTVer3",
    "GPTVer4",
    "HeadVer1",
    "HeadVer2",
    "HeadVer3",
    "HeadVer4",
    "LayerNorm",
    "MultiHeadVer1",
    "MultiHeadVer2",
    "TrainConfig",
    "bits_per_character",
    "builtin_corpus",
    "load_text",
    "pos_encodings_v1",
    "pos_encodings_v2",
    "pos_encodings_v3",
    "pos_encodings_v4",
    "tokenizer_from_state_dict",
    "train",
]
