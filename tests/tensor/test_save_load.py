"""tensor.save / tensor.load: nested state round-trips without pickle, atomically; PyTorch's pickle
files are refused with the way over (issue 29)."""

import pickle
import zipfile

import numpy as np
import pytest

import tensor


def test_nested_state_round_trips_with_dtypes_and_requires_grad(tmp_path):
    state = {
        "weights": {"w": tensor.randn(2, 3), "ids": tensor.tensor([1, 2]), "mask": tensor.tensor([True])},
        "history": [1.5, 2.5],
        "pair": (3, "three", None),
        0: tensor.ones(2, dtype=tensor.float64, requires_grad=True),
    }
    path = tmp_path / "state.pt"
    tensor.save(state, path)
    loaded = tensor.load(path)
    assert loaded["weights"]["w"].tolist() == state["weights"]["w"].tolist()
    assert [loaded["weights"][k].dtype for k in ("w", "ids", "mask")] == [tensor.float32, tensor.int64, tensor.bool]
    assert loaded["history"] == [1.5, 2.5] and loaded["pair"] == (3, "three", None)
    assert loaded[0].requires_grad and loaded[0].dtype == tensor.float64
    assert not loaded["weights"]["w"].requires_grad


def test_a_single_tensor_round_trips(tmp_path):
    t = tensor.arange(6).view(2, 3)
    tensor.save(t, str(tmp_path / "t.pt"))
    assert tensor.load(str(tmp_path / "t.pt"), map_location="cpu").tolist() == t.tolist()


def test_a_failed_save_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "state.pt"
    tensor.save({"a": tensor.ones(1)}, path)
    with pytest.raises(TypeError, match="cannot store a value of type object"):
        tensor.save({"a": object()}, path)
    assert tensor.load(path)["a"].tolist() == [1.0] and [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_pickle_files_are_refused_naming_safetensors(tmp_path):
    stream = tmp_path / "plain.pkl"
    stream.write_bytes(pickle.dumps({"a": np.ones(2)}))
    archive = tmp_path / "model.pt"
    with zipfile.ZipFile(archive, "w") as file:
        file.writestr("model/data.pkl", pickle.dumps({"a": 1}))
    for path in (stream, archive):
        with pytest.raises(ValueError, match=r"PyTorch pickle file.*safetensors\.torch\.save_file"):
            tensor.load(path)


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="map_location must be a device"):
        tensor.load(tmp_path / "x.pt", map_location=0)
    with pytest.raises(FileNotFoundError):
        tensor.load(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="f must be a file path"):
        tensor.save({}, 3)
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a tinygrad_gpt state file"):
        tensor.load(tmp_path / "junk.pt")


def test_tensors_come_back_on_their_device_unless_map_location_says_otherwise(tmp_path, device):
    path = tmp_path / "state.pt"
    tensor.save({"w": tensor.ones(2, device=device)}, path)
    assert tensor.load(path)["w"].device == device
    assert tensor.load(path, map_location="cpu")["w"].device == "cpu"
    assert tensor.load(path, map_location=tensor.device("cpu"))["w"].tolist() == [1.0, 1.0]
