"""nn.save / nn.load: state dicts (and nested dicts of tensors and plain values) in a file, without pickle.

Two formats, chosen by the file name:

- `*.safetensors`: the weights format every PyTorch and Hugging Face tool reads, for a flat
  name -> tensor dict such as `model.state_dict()`. Written and read by the `safetensors`
  package (the format's reference implementation, which validates headers and offsets).
  The format has no checksum: a flipped bit inside a tensor's bytes goes unnoticed.
- anything else: this project's format for checkpoints, which also hold nested optimizer
  state, numbers and strings. A NumPy .npz archive (a zip of .npy arrays), read with
  allow_pickle=False. Each tensor is one array; everything else (the nesting, numbers,
  strings, lists, dtypes, devices) is one JSON document stored as a uint8 array. Zip
  members carry CRC-32 checksums, so a corrupted file is detected on load.

Writes are atomic: the file goes to a temporary file in the same folder, is flushed and
fsync'ed, then renamed over the target, so a crash mid-write leaves the old file intact.

Tied weights in safetensors: the format stores each tensor's bytes once per name and cannot
say "these two names are one tensor". As safetensors' own PyTorch helpers (save_model /
load_model) do, `save` keeps the alphabetically first name of a shared tensor, drops the
others, and records each dropped name in the header's metadata as {dropped: kept}; `load`
puts the dropped names back as the same Tensor, so load_state_dict fills a tied model and
the tie holds (a file saved by safetensors.torch.save_model loads the same way).
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
        arrays[name] = tensor.backend.to_device(value._array, "cpu")
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
    """Write a state dict (or, except to .safetensors, nested dicts/lists of tensors and plain values) atomically."""
    if _is_safetensors(path):
        _write_atomically(path, lambda file: file.write(_safetensors_bytes(obj, path)))
        return
    arrays = {}
    structure = json.dumps({"format": FORMAT, "root": _encode(obj, arrays)})
    arrays["__structure__"] = np.frombuffer(structure.encode("utf-8"), dtype=np.uint8)
    _write_atomically(path, lambda file: np.savez(file, **arrays))


def _write_atomically(path, write):
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


def load(path, map_location="cpu", *, device=None):
    """Read what `save` wrote, or any .safetensors file; tensors go to `map_location` (or `device`), "cpu" by default."""
    map_location = tensor.backend.normalize_device(device or map_location)
    if _is_safetensors(path):
        return _load_safetensors(path, map_location)
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


# ----- safetensors -------------------------------------------------------------------------------

SAFETENSORS_DTYPES = ("F32", "F64", "I32", "I64", "BOOL")  # the safetensors names of the dtypes a Tensor can have


def _is_safetensors(path):
    return str(path).endswith(".safetensors")


def _safetensors_bytes(state_dict, path):
    """The file's bytes: each distinct tensor once, a dropped alias recorded in metadata as {dropped: kept}."""
    import safetensors.numpy

    if not isinstance(state_dict, dict):
        raise TypeError(
            f"save: {path}: a .safetensors file holds a dict of name -> tensor, got {type(state_dict).__name__}"
        )
    names_of_array = {}  # id of the array -> names that share it (weight tying shares one Parameter)
    for name, value in state_dict.items():
        if not isinstance(name, str) or not isinstance(value, Tensor):
            raise TypeError(
                f"save: {path}: a .safetensors file holds only name -> tensor (a model's state_dict), "
                f"but {name!r} is a {type(value).__name__}; save checkpoints with nested state under another suffix (.npz)"
            )
        names_of_array.setdefault(id(value._array), []).append(name)
    arrays, metadata = {}, {"format": "pt"}  # "pt": the tensors are laid out as PyTorch's modules expect them
    for names in names_of_array.values():
        kept, *dropped = sorted(names)
        arrays[kept] = np.asarray(tensor.backend.to_device(state_dict[kept]._array, "cpu"), order="C")
        metadata.update({name: kept for name in dropped})
    return safetensors.numpy.save(arrays, metadata=metadata)


def _load_safetensors(path, map_location):
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy") as file:
            metadata = file.metadata() or {}
            arrays = {}
            for name in file.keys():
                dtype = file.get_slice(name).get_dtype()
                if dtype not in SAFETENSORS_DTYPES:
                    raise ValueError(
                        f"load: {path}: tensor {name!r} has dtype {dtype}, which a Tensor cannot hold "
                        f"(it holds {', '.join(SAFETENSORS_DTYPES)}); convert the file first, e.g. in PyTorch "
                        "save_file({k: v.float() for k, v in load_file(path).items()}, path)"
                    )
                arrays[name] = file.get_tensor(name)
    except SafetensorError as error:
        raise ValueError(f"load: {path} is truncated, corrupted or not a safetensors file ({error})") from None
    state = {name: Tensor._wrap(tensor.backend.to_device(array, map_location)) for name, array in arrays.items()}
    for dropped, kept in metadata.items():
        if dropped not in state and kept in state:  # a tied weight: the same Tensor under both names
            state[dropped] = state[kept]
    return state
