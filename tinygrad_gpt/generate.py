"""Text generation from a trained checkpoint."""

import tensor

from .train import load_checkpoint


def generate_text(
    checkpoint_path, prompt="\n", max_new_tokens=500, temperature=1.0, top_k=None, seed=None, device="cpu"
):
    """Continue `prompt` with max_new_tokens characters sampled from the checkpoint's model."""
    _, model, tokenizer = load_checkpoint(checkpoint_path, device)
    return sample(model, tokenizer, prompt, max_new_tokens, temperature, top_k, seed)


def sample(model, tokenizer, prompt="\n", max_new_tokens=500, temperature=1.0, top_k=None, seed=None):
    if seed is not None:
        tensor.manual_seed(seed)
    if not prompt:
        raise ValueError("the prompt must hold at least one character")
    device = next(iter(model.parameters())).device
    context = tensor.tensor([tokenizer.encode(prompt)], device=device)  # (1, T)
    model.eval()
    out = model.generate(context, max_new_tokens, temperature=temperature, top_k=top_k)
    return tokenizer.decode(out[0].tolist())
