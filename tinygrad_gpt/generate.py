"""Text generation from a trained checkpoint."""

import tensor

from .train import load_checkpoint


def generate_text(
    checkpoint_path, prompt="\n", max_new_tokens=500, temperature=1.0, top_k=None, seed=None, device="cpu"
):
    """Continue `prompt` with max_new_tokens tokens sampled from the checkpoint's model (its own tokenizer)."""
    _, model, tokenizer = load_checkpoint(checkpoint_path, device)
    return sample(model, tokenizer, prompt, max_new_tokens, temperature, top_k, seed)


def sample(model, tokenizer, prompt="\n", max_new_tokens=500, temperature=1.0, top_k=None, seed=None):
    """Continue `prompt` in eval mode; with a seed, reproducibly.

    The caller's state is put back afterwards: the model's train/eval mode and, when a
    seed is given, the random generator's state (so sampling in the middle of training
    does not change the training run).
    """
    if not prompt:
        raise ValueError("the prompt must hold at least one character")
    device = next(iter(model.parameters())).device
    context = tensor.tensor([tokenizer.encode(prompt)], device=device)  # (1, T)
    modes = [(module, module.training) for module in model.modules()]
    saved_rng = tensor.get_rng_state() if seed is not None else None
    if seed is not None:
        tensor.manual_seed(seed)
    model.eval()
    try:
        out = model.generate(context, max_new_tokens, temperature=temperature, top_k=top_k)
    finally:
        for module, training in modes:  # parents come first, so each child's own mode wins
            module.train(training)
        if saved_rng is not None:
            tensor.set_rng_state(saved_rng)  # the CPU generator's; the one tensor exposes (as torch.get_rng_state)
    return tokenizer.decode(out[0].tolist())
