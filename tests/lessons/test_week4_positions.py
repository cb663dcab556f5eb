"""Week 4: positional encodings. Which of four properties does each encoding keep, and why sine/cosine pairs?

The four properties: bounded (values do not grow with length), unique (every position
differs), length-independent (position t means the same in any sequence length), and
shift-invariant distances (how far apart two encodings are depends only on the offset).
"""

import numpy as np
import pytest

import tensor
from tinygrad_gpt import (
    GPTVer1,
    GPTVer2,
    GPTVer3,
    HeadVer3,
    pos_encodings_v1,
    pos_encodings_v2,
    pos_encodings_v3,
    pos_encodings_v4,
)

C = 16


def bounded(encode):
    return np.abs(encode(512, C).numpy()).max() <= 1 + 1e-6


def unique(encode):
    rows = encode(64, C).numpy()
    return len({tuple(np.round(r, 6)) for r in rows}) == 64


def length_independent(encode):
    return np.allclose(encode(16, C).numpy(), encode(64, C).numpy()[:16], atol=1e-6)


def shift_invariant_distances(encode, offset=3):
    rows = encode(64, C).numpy()
    distances = np.linalg.norm(rows[offset:] - rows[:-offset], axis=1)
    return np.ptp(distances) < 1e-4


def test_v1_raw_position_is_not_bounded():
    assert not bounded(pos_encodings_v1)
    assert unique(pos_encodings_v1) and length_independent(pos_encodings_v1)


def test_v2_normalized_position_is_not_length_independent():
    assert bounded(pos_encodings_v2) and unique(pos_encodings_v2)
    assert not length_independent(pos_encodings_v2)


def test_v3_sines_do_not_keep_distances_shift_invariant():
    assert bounded(pos_encodings_v3) and unique(pos_encodings_v3) and length_independent(pos_encodings_v3)
    assert not shift_invariant_distances(pos_encodings_v3)


def test_v4_sine_cosine_pairs_keep_all_four_properties():
    encode = pos_encodings_v4
    assert bounded(encode) and unique(encode) and length_independent(encode) and shift_invariant_distances(encode)


def repeated_token_logits(model):
    """Logits at every position of a sequence of one repeated token: (T, vocab)."""
    return model.logits(tensor.full((1, 8), 5, dtype=tensor.long))[0].detach().numpy()


@pytest.mark.parametrize("make", [lambda: GPTVer1(10, 8), lambda: GPTVer2(HeadVer3(), 10, 8, C)])
def test_models_without_positions_cannot_tell_positions_apart(make):
    logits = repeated_token_logits(make())
    np.testing.assert_allclose(logits, np.broadcast_to(logits[0], logits.shape), rtol=1e-5, atol=1e-6)


def test_gpt_ver3_with_positions_can():
    logits = repeated_token_logits(GPTVer3(HeadVer3(), 10, 8, C))
    assert np.abs(logits - logits[0]).max() > 1e-3


@pytest.mark.parametrize("version", ["v1", "v2", "v3", "v4"])
def test_the_course_calls_each_encoding_as_a_static_method_of_gpt_ver3(version):
    """The course writes GPTVer3.pos_encodings_v1(T, C): the class holds the four encodings."""
    module_function = {"v1": pos_encodings_v1, "v2": pos_encodings_v2, "v3": pos_encodings_v3}.get(
        version, pos_encodings_v4
    )
    from_class = getattr(GPTVer3, f"pos_encodings_{version}")(8, C)
    assert from_class.shape == (8, C)
    np.testing.assert_array_equal(from_class.numpy(), module_function(8, C).numpy())
