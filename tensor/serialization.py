"""torch.save / torch.load without pickle: tensors, state dicts and optimizer state in a file of ours.

The format (shared with nn.save / nn.load, which add .safetensors for weights): a NumPy .npz archive
(a zip of .npy arrays), read with allow_pickle=False. Each tensor is one array; everything else (the
nesting of dicts, lists and tuples, numbers, strings, None, each tensor's device and requires_grad)
is one JSON document stored as a uint8 array. Zip members carry CRC-32 checksums, so a corrupted file
is detected on load. Writes are atomic: the file goes to a temporary file in the same folder, is
flushed and fsync'ed, then renamed over the target, so a crash mid-write leaves the old file intact.

PyTorch's own files are pickles (a zip holding data.pkl, or a bare pickle stream): unpickling runs
whatever code the file names, so `load` refuses them and says how to bring the weights over
(safetensors, which both libraries read).
"""

import json
import os
import tempfile
import zipfile

import numpy as np

from .backend import normalize_device, to_device
from .tensor import Tensor

FORMAT = "tinygrad_gpt-state-v1"
PICKLE_PROTOCOL_MARK = b"\x80"  # the first byte of a pickle stream (protocol 2 and up)


def encode(value, arrays):
    """JSON-able description of value; tensors and arrays go into `arrays` under generated names."""
    if isinstance(value, Tensor):
        name = f"tensor_{len(arrays)}"
        arrays[name] = to_device(value._array, "cpu")
        node = {"__tensor__": name, "device": value.device}
        if value.requires_grad:
            node["requires_grad"] = True
        return node
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        name = f"array_{len(arrays)}"
        arrays[name] = to_device(value, "cpu")
        return {"__array__": name}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} ({key!r})")
        return {"__dict__": [[key, encode(v, arrays)] for key, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"__list__" if isinstance(value, list) else "__tuple__": [encode(v, arrays) for v in value]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"save: cannot store a value of type {type(value).__name__} (tensors, dicts, lists, tuples, numbers, "
        "strings and None can be saved; save a model's state_dict(), not the model)"
    )


def decode(node, archive, map_location):
    """The value `encode` described; tensors go to map_location (None: the device they were saved from)."""
    if isinstance(node, dict):
        if "__tensor__" in node:
            device = map_location or node.get("device", "cpu")
            t = Tensor._wrap(to_device(_read(archive, node["__tensor__"]), device))
            return t.requires_grad_() if node.get("requires_grad") else t
        if "__array__" in node:
            return _read(archive, node["__array__"])
        if "__dict__" in node:
            return {key: decode(v, archive, map_location) for key, v in node["__dict__"]}
        if "__list__" in node:
            return [decode(v, archive, map_location) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(decode(v, archive, map_location) for v in node["__tuple__"])
        raise ValueError(f"load: unknown entry {sorted(node)} in the file's structure")
    return node


def _read(archive, name):
    if name not in archive.files:
        raise ValueError(f"load: the file refers to array {name!r}, which it does not contain")
    return archive[name]


def write_state(obj, path):
    """Write obj (tensors, nested dicts/lists/tuples of them and plain values) atomically in our format."""
    arrays = {}
    structure = json.dumps({"format": FORMAT, "root": encode(obj, arrays)})
    arrays["__structure__"] = np.frombuffer(structure.encode("utf-8"), dtype=np.uint8)
    write_atomically(path, lambda file: np.savez(file, **arrays))


def write_atomically(path, write):
    """Call write(file) on a temporary file next to `path`, fsync it, then rename it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(str(path))[1], dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        directory = os.open(folder, os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def read_state(path, map_location=None):
    """Read what write_state wrote; tensors go to map_location ("cpu", "cuda"; None: where they were saved)."""
    refuse_pickle(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "__structure__" not in archive.files:
                raise ValueError(f"load: {path} is not a tinygrad_gpt state file (no structure record)")
            document = json.loads(archive["__structure__"].tobytes().decode("utf-8"))
            if document.get("format") != FORMAT:
                raise ValueError(f"load: {path} has format {document.get('format')!r}, expected {FORMAT!r}")
            return decode(document["root"], archive, map_location)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"load: {path} is truncated, corrupted or not a tinygrad_gpt state file ({error})") from None
    except ValueError as error:
        if str(error).startswith("load:"):
            raise
        raise ValueError(f"load: {path} is truncated, corrupted or not a tinygrad_gpt state file ({error})") from None


def refuse_pickle(path):
    """A clear error for a file PyTorch's torch.save wrote (a pickle), naming safetensors as the way over."""
    if not os.path.isfile(path):
        return  # np.load raises FileNotFoundError
    with open(path, "rb") as file:
        start = file.read(2)
    is_pickle = start[:1] == PICKLE_PROTOCOL_MARK
    if not is_pickle and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            is_pickle = any(name == "data.pkl" or name.endswith("/data.pkl") for name in archive.namelist())
    if is_pickle:
        raise ValueError(
            f"load: {path} is a PyTorch pickle file (what torch.save writes), which this library does not read: "
            "unpickling runs code from the file. Bring the weights over with safetensors: in PyTorch, "
            "safetensors.torch.save_file(torch.load(path), 'model.safetensors') (a dict of tensors, such as a "
            "state_dict), then nn.load('model.safetensors') here"
        )


def _location(map_location):
    """map_location as a device name: "cpu", "cuda", "cuda:0", a tensor.device, or None (where it was saved)."""
    if map_location is None:
        return None
    if not isinstance(map_location, str) and not hasattr(map_location, "type"):
        raise TypeError(
            f"load: map_location must be a device (such as 'cpu' or 'cuda'), got {type(map_location).__name__}"
        )
    return normalize_device(str(map_location))


def save(obj, f):
    """torch.save: write a tensor, a state dict (a model's or an optimizer's) or nested dicts, lists and
    tuples of tensors and plain values to the path `f`, atomically, without pickle."""
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"save: f must be a file path here (a str or os.PathLike), got {type(f).__name__}")
    write_state(obj, f)


def load(f, map_location=None, *, weights_only=None, mmap=None):
    """torch.load: read what `save` wrote. Tensors go to map_location ("cpu", "cuda", a device), or to the
    device they were saved from when it is None. (weights_only and mmap are accepted: no file of ours runs
    code, and none is memory-mapped.)"""
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"load: f must be a file path here (a str or os.PathLike), got {type(f).__name__}")
    return read_state(f, _location(map_location))
