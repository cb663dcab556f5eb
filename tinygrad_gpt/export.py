"""`tinygrad-gpt export`: a checkpoint's model as the two files any PyTorch program can read.

model.safetensors holds the weights under their state_dict names (nn.save writes the
safetensors format; a tied lm_head is stored once, as safetensors' own save_model does);
config.json holds the GPTConfig and the tokenizer (a character vocabulary or BPE merges),
plain JSON, so the architecture can be rebuilt and text encoded without this project.
"""

import json
import os

import nn

from .train import load_checkpoint

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
EXPORT_FORMAT = 1


def existing_export_files(out_dir):
    """The export files already in out_dir (what an export without overwrite must not replace)."""
    return [name for name in (WEIGHTS_NAME, CONFIG_NAME) if os.path.exists(os.path.join(out_dir, name))]


def export_checkpoint(checkpoint_path, out_dir, overwrite=False):
    """Write out_dir/model.safetensors and out_dir/config.json from a training checkpoint; return their paths.

    An export already in out_dir is replaced only with overwrite=True (FileExistsError otherwise).
    Both files are written atomically (a temporary file renamed into place).
    """
    existing = existing_export_files(out_dir)
    if existing and not overwrite:
        raise FileExistsError(f"{out_dir} already holds an export ({', '.join(existing)})")
    checkpoint, model, tokenizer = load_checkpoint(checkpoint_path)
    os.makedirs(out_dir, exist_ok=True)
    weights_path, config_path = os.path.join(out_dir, WEIGHTS_NAME), os.path.join(out_dir, CONFIG_NAME)
    nn.save(model.state_dict(), weights_path)
    config = {
        "format": EXPORT_FORMAT,
        "model": model.config.to_dict(),
        "tokenizer": tokenizer.state_dict(),
        "step": checkpoint["step"],
    }
    temporary = config_path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(config, file, indent=1, ensure_ascii=False)
    os.replace(temporary, config_path)
    return weights_path, config_path
