"""nn.save / nn.load: state dicts (and nested dicts of tensors and plain values) in a file, without pickle.

Format: a NumPy .npz archive (a zip of .npy arrays), read with allow_pickle=False.
It needs nothing beyond NumPy (safetensors would add a dependency and cannot hold the
nested optimizer state and metadata a checkpoint needs). Each tensor is one array;
everything else (the nesting, numbers, strings, lists, dtypes, devices) is one JSON
document stored as a uint8 array. Zip members carry CRC-32 checksums, so a
corrupted file is detected on load.

Writes are atomic: the archive goes to a temporary file in the same folder, is
flushed and fsync'ed, then renamed over the target, so a crash mid-write leaves
the old file intact.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

import tensor
from tensor import Tensor

FORMAT = "tinygrad_gpt-state-v1"


def _encode(value, arrays):
    """JSON-able description of value; tensors and arrays go into `arrays` under generated names."""
    if isinstance(value, Tensor):
        name = f"tensor_{len(arrays)}"
        arrays[name] = tensor.backend.to_device(value.data, "cpu")
        return {"__tensor__": name}
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        name = f"array_{len(arrays)}"
        arrays[name] = tensor.backend.to_device(value, "cpu")
        return {"__array__": name}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} ({key!r})")
        return {"__dict__": [[key, _encode(v, arrays)] for key, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"__list__" if isinstance(value, list) else "__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"save: cannot store a value of type {type(value).__name__}")


def _decode(node, archive, map_location):
    if isinstance(node, dict):
        if "__tensor__" in node:
            return Tensor._wrap(tensor.backend.to_device(_read(archive, node["__tensor__"]), map_location))
        if "__array__" in node:
            return _read(archive, node["__array__"])
        if "__dict__" in node:
            return {key: _decode(v, archive, map_location) for key, v in node["__dict__"]}
        if "__list__" in node:
            return [_decode(v, archive, map_location) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(_decode(v, archive, map_location) for v in node["__tuple__"])
        raise ValueError(f"load: unknown entry {sorted(node)} in the file's structure")
    return node


def _read(archive, name):
    if name not in archive.files:
        raise ValueError(f"load: the file refers to array {name!r}, which it does not contain")
    return archive[name]


def save(obj, path):
    """Write a state dict (or nested dicts/lists of tensors and plain values) to `path` atomically."""
    arrays = {}
    structure = json.dumps({"format": FORMAT, "root": _encode(obj, arrays)})
    arrays["__structure__"] = np.frombuffer(structure.encode("utf-8"), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as file:
            np.savez(file, **arrays)
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


def load(path, map_location="cpu"):
    """Read what `save` wrote; tensors are placed on `map_location` ("cpu" by default)."""
    map_location = tensor.backend.normalize_device(map_location)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "__structure__" not in archive.files:
                raise ValueError(f"load: {path} is not a tinygrad_gpt state file (no structure record)")
            document = json.loads(archive["__structure__"].tobytes().decode("utf-8"))
            if document.get("format") != FORMAT:
                raise ValueError(f"load: {path} has format {document.get('format')!r}, expected {FORMAT!r}")
            return _decode(document["root"], archive, map_location)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"load: {path} is truncated, corrupted or not a tinygrad_gpt state file ({error})") from None
    except ValueError as error:
        if str(error).startswith("load:"):
            raise
        raise ValueError(f"load: {path} is truncated, corrupted or not a tinygrad_gpt state file ({error})") from None
