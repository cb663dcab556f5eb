"""nn.save / nn.load: bit-exact round trips, atomic writes, clear errors on bad files."""

import os
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn
import tensor

arrays = hnp.arrays(
    st.sampled_from([np.float32, np.float64, np.int64, np.bool_]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)


@given(values=st.lists(arrays, min_size=1, max_size=4))
def test_state_dict_round_trips_bit_exactly(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("save") / "state.npz"
    state = {f"layer.{i}.weight": tensor.tensor(v) for i, v in enumerate(values)}
    nn.save(state, path)
    loaded = nn.load(path)
    assert list(loaded) == list(state)
    for key in state:
        assert loaded[key].dtype == state[key].dtype
        np.testing.assert_array_equal(loaded[key].numpy(), state[key].numpy())
        assert loaded[key].numpy().tobytes() == state[key].numpy().tobytes()


def test_nested_structures_keep_their_types(tmp_path):
    obj = {
        "model": {"w": tensor.ones(2)},
        "optimizer": {"state": {0: {"step": 3}}, "param_groups": [{"betas": (0.9, 0.99), "lr": 1e-3}]},
        "name": "x",
        "flag": None,
    }
    nn.save(obj, tmp_path / "c.npz")
    loaded = nn.load(tmp_path / "c.npz")
    assert loaded["optimizer"]["state"][0]["step"] == 3
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.99)
    assert loaded["name"] == "x" and loaded["flag"] is None


def test_model_round_trip_through_a_file(tmp_path, device):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4)).to(device)
    nn.save(model.state_dict(), tmp_path / "m.npz")
    other = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    other.load_state_dict(nn.load(tmp_path / "m.npz"))  # saved from `device`, loaded on "cpu"
    for a, b in zip(model.parameters(), other.parameters()):
        assert tensor.equal(a.cpu(), b)


def test_a_crash_mid_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "state.npz"
    nn.save({"w": tensor.ones(3)}, path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        nn.save({"w": tensor.zeros(3)}, path)
    assert nn.load(path)["w"].tolist() == [1, 1, 1]
    assert os.listdir(tmp_path) == ["state.npz"]  # no temporary file left behind


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "state.npz"
    nn.save({"w": tensor.randn(100)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated, corrupted"):
        nn.load(path)


def test_corrupted_bytes_are_detected(tmp_path):
    path = tmp_path / "state.npz"
    nn.save({"w": tensor.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # flip a byte inside the array data
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="truncated, corrupted"):
        nn.load(path)["w"]


def test_wrong_format_files_are_clear_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="corrupted or not a tinygrad_gpt state file"):
        nn.load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(2))
    with pytest.raises(ValueError, match="not a tinygrad_gpt state file"):
        nn.load(plain)


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__structure__.npy", b"\x93NUMPY not really")
    with pytest.raises(ValueError):
        nn.load(path)
    with pytest.raises(TypeError, match="cannot store"):
        nn.save({"f": object()}, tmp_path / "x.npz")
