"""nn.save / nn.load with .safetensors: real safetensors files, dtypes kept, ties kept, clear errors on bad files."""

import json
import os
import struct

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn
import tensor

arrays = hnp.arrays(
    st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.bool_]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)


class TiedModel(nn.Module):
    """An embedding whose weight is also the output layer's, as GPT-2's wte and lm_head."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(5, 3)
        self.norm = nn.LayerNorm(3)
        self.head = nn.Linear(3, 5, bias=False)
        self.head.weight = self.embedding.weight

    def forward(self, indices):
        return self.head(self.norm(self.embedding(indices)))


def header(path):
    """The JSON header of a safetensors file: 8 bytes of little-endian length, then the JSON."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length])


@given(values=st.lists(arrays, min_size=1, max_size=4))
def test_state_dict_round_trips_bit_exactly_with_its_dtypes(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("save") / "model.safetensors"
    state = {f"layer.{i}.weight": tensor.tensor(v) for i, v in enumerate(values)}
    nn.save(state, path)
    loaded = nn.load(path)
    assert sorted(loaded) == sorted(state)
    for key in state:
        assert loaded[key].dtype == state[key].dtype and loaded[key].shape == state[key].shape
        assert loaded[key].numpy().tobytes() == state[key].numpy().tobytes()


def test_the_file_is_plain_safetensors_readable_without_this_project(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    nn.save(model.state_dict(), tmp_path / "model.safetensors")
    read = safetensors.numpy.load_file(tmp_path / "model.safetensors")
    assert sorted(read) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    np.testing.assert_array_equal(read["0.weight"], model[0].weight.detach().numpy())
    assert header(tmp_path / "model.safetensors")["__metadata__"] == {"format": "pt"}


def test_a_file_written_by_safetensors_loads_into_a_model(tmp_path, device):
    weights = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3), "bias": np.array([1.0, -1.0], np.float32)}
    safetensors.numpy.save_file(weights, tmp_path / "linear.safetensors")
    layer = nn.Linear(3, 2).to(device)
    layer.load_state_dict(nn.load(tmp_path / "linear.safetensors", map_location=device))
    assert layer.weight.device == device
    np.testing.assert_array_equal(layer.weight.detach().cpu().numpy(), weights["weight"])
    assert nn.load(tmp_path / "linear.safetensors", device=device)["bias"].device == device


def test_tied_weights_are_stored_once_and_come_back_tied(tmp_path):
    model = TiedModel()
    state = model.state_dict()
    assert set(state) == {"embedding.weight", "norm.weight", "norm.bias", "head.weight"}  # both names, as PyTorch
    nn.save(state, tmp_path / "tied.safetensors")
    file_header = header(tmp_path / "tied.safetensors")
    assert "head.weight" not in file_header  # its bytes are stored once, under the first name
    assert file_header["__metadata__"]["head.weight"] == "embedding.weight"

    loaded = nn.load(tmp_path / "tied.safetensors")
    assert set(loaded) == set(state)
    assert loaded["head.weight"] is loaded["embedding.weight"]
    fresh = TiedModel()
    fresh.load_state_dict(loaded, strict=True)
    assert fresh.head.weight is fresh.embedding.weight
    np.testing.assert_array_equal(fresh.head.weight.detach().numpy(), model.embedding.weight.detach().numpy())
    indices = tensor.tensor([[0, 4, 2]])
    assert tensor.equal(fresh(indices), model(indices))


def test_a_crash_mid_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    nn.save({"w": tensor.ones(3)}, path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        nn.save({"w": tensor.zeros(3)}, path)
    monkeypatch.undo()
    assert nn.load(path)["w"].tolist() == [1, 1, 1]
    assert os.listdir(tmp_path) == ["model.safetensors"]  # no temporary file left behind


def test_truncated_file_is_a_clear_error_naming_it(tmp_path):
    path = tmp_path / "model.safetensors"
    nn.save({"w": tensor.randn(100)}, path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=f"{path} is truncated, corrupted or not a safetensors file"):
        nn.load(path)


def test_a_header_that_lies_about_offsets_is_a_clear_error(tmp_path):
    path = tmp_path / "model.safetensors"
    nn.save({"a": tensor.ones(4), "b": tensor.zeros(4)}, path)
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    lying = json.loads(data[8 : 8 + length])
    lying["a"]["data_offsets"] = [0, 64]  # four float32 are 16 bytes, and the file has 32 in all
    text = json.dumps(lying).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + length :])
    with pytest.raises(ValueError, match=f"{path} is truncated, corrupted or not a safetensors file"):
        nn.load(path)


def test_a_file_that_is_not_safetensors_is_a_clear_error(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    nn.save({"w": tensor.ones(2)}, tmp_path / "checkpoint.npz")
    os.replace(tmp_path / "checkpoint.npz", path)
    with pytest.raises(ValueError, match=f"{path} is truncated, corrupted or not a safetensors file"):
        nn.load(path)


def test_a_dtype_a_tensor_cannot_hold_is_named(tmp_path):
    path = tmp_path / "half.safetensors"
    safetensors.numpy.save_file({"w": np.ones(2, np.float16)}, path)
    with pytest.raises(ValueError, match=r"tensor 'w' has dtype F16, which a Tensor cannot hold"):
        nn.load(path)


def test_only_a_flat_dict_of_tensors_can_be_saved_as_safetensors(tmp_path):
    with pytest.raises(TypeError, match=r"'optimizer' is a dict.*\.npz"):
        nn.save({"w": tensor.ones(1), "optimizer": {"lr": 1.0}}, tmp_path / "c.safetensors")
    assert not (tmp_path / "c.safetensors").exists()


def test_a_transposed_view_is_saved_with_its_values_in_order(tmp_path):
    matrix = tensor.arange(6).reshape(2, 3).T  # (3, 2), not contiguous in memory
    nn.save({"m": matrix}, tmp_path / "m.safetensors")
    assert nn.load(tmp_path / "m.safetensors")["m"].tolist() == [[0, 3], [1, 4], [2, 5]]
