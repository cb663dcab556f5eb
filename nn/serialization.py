"""nn.save / nn.load: state dicts (and nested dicts of tensors and plain values) in a file, without pickle.

Two formats, chosen by the file name:

- `*.safetensors`: the weights format every PyTorch and Hugging Face tool reads, for a flat
  name -> tensor dict such as `model.state_dict()`. Written and read by the `safetensors`
  package (the format's reference implementation, which validates headers and offsets).
  The format has no checksum: a flipped bit inside a tensor's bytes goes unnoticed.
- anything else: this project's format for checkpoints, which also hold nested optimizer
  state, numbers and strings: tensor.save's (tensor/serialization.py), a NumPy .npz archive
  of arrays plus one JSON document for the rest, read without pickle, CRC-checked.

Writes are atomic: the file goes to a temporary file in the same folder, is flushed and
fsync'ed, then renamed over the target, so a crash mid-write leaves the old file intact.

Tied weights in safetensors: the format stores each tensor's bytes once per name and cannot
say "these two names are one tensor". As safetensors' own PyTorch helpers (save_model /
load_model) do, `save` keeps the alphabetically first name of a shared tensor, drops the
others, and records each dropped name in the header's metadata as {dropped: kept}; `load`
puts the dropped names back as the same Tensor, so load_state_dict fills a tied model and
the tie holds (a file saved by safetensors.torch.save_model loads the same way).
"""

import numpy as np

import tensor
from tensor import Tensor
from tensor.serialization import FORMAT, read_state, write_atomically, write_state

__all__ = ["FORMAT", "load", "save"]


def save(obj, path):
    """Write a state dict (or, except to .safetensors, nested dicts/lists of tensors and plain values) atomically."""
    if _is_safetensors(path):
        write_atomically(path, lambda file: file.write(_safetensors_bytes(obj, path)))
        return
    write_state(obj, path)


def load(path, map_location="cpu", *, device=None):
    """Read what `save` wrote, or any .safetensors file; tensors go to `map_location` (or `device`), "cpu" by default."""
    map_location = tensor.backend.normalize_device(device or map_location)
    if _is_safetensors(path):
        return _load_safetensors(path, map_location)
    return read_state(path, map_location)


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
