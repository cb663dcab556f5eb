"""Week 5: multi-head attention. Do several small heads beat one big head, and is the batched version the same?"""

import numpy as np
import pytest

import tensor
from tests.lessons.training import VOCAB, count_parameters, train_and_evaluate
from tinygrad_gpt import GPTVer4, HeadVer4, MultiHeadVer1, MultiHeadVer2

T, C = 16, 32


def test_four_heads_beat_one_head_at_the_same_parameter_count():
    """In every one of three seeded runs, and by 0.02 nats on average: one seed's margin alone moves with
    the machine's float summation order (measured 0.016 to 0.075 across seeds and machines)."""
    assert count_parameters(MultiHeadVer2(T, C, 4)) == count_parameters(MultiHeadVer2(T, C, 1))
    gaps = []
    for seed in (0, 1, 2):
        _, four = train_and_evaluate(lambda: GPTVer4(MultiHeadVer2(T, C, 4), VOCAB, T, C), steps=300, seed=seed)
        _, one = train_and_evaluate(lambda: GPTVer4(MultiHeadVer2(T, C, 1), VOCAB, T, C), steps=300, seed=seed)
        gaps.append(one - four)
    assert min(gaps) > 0 and np.mean(gaps) > 0.02, gaps


def test_multi_head_ver1_and_ver2_compute_the_same_thing_given_the_same_weights():
    separate, batched = MultiHeadVer1(T, C, 4).double(), MultiHeadVer2(T, C, 4).double()
    for role in ("query", "key", "value"):  # stack the heads' (head_size, C) weights into one (C, C)
        stacked = tensor.cat([getattr(head, role).weight for head in separate.heads], dim=0)
        getattr(batched, role).weight.data[...] = stacked.detach().numpy()
    batched.proj.load_state_dict(separate.proj.state_dict())
    x = tensor.randn(3, T, C, dtype=tensor.float64)
    np.testing.assert_allclose(separate(x).detach().numpy(), batched(x).detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_heads", [2, 4, 8])
def test_the_course_scales_by_the_embedding_width_so_each_heads_scores_have_variance_head_size_over_c(n_heads):
    """The course scales q.k by C**-0.5 (C the embedding size), the paper by head_size**-0.5: with
    n heads of size C/n, the course's scores have variance head_size / C = 1/n instead of 1."""
    embed_size, head_size = 64, 64 // n_heads
    head = HeadVer4(32, embed_size, head_size)
    features = np.eye(embed_size)
    head.query.weight.data[...] = features[:head_size]  # q = the first head_size features of x
    head.key.weight.data[...] = features[head_size : 2 * head_size]  # k = the next ones, independent of q
    head(tensor.randn(64, 32, embed_size))  # unit-variance features: q.k has variance head_size
    assert 0.85 < head.var.item() / (head_size / embed_size) < 1.15
