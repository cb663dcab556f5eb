"""Plots (matplotlib, the `plot` extra): a run's loss curve, and attention maps of a trained model."""

import numpy as np

import tensor


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError('plots need matplotlib: pip install -e ".[plot]"') from None
    return plt


def plot_loss_curve(train_losses, evals, path):
    """Per-step training loss (light), evaluated train/val losses (dots), saved as a PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(train_losses) + 1), train_losses, alpha=0.3, label="train (per step)")
    if evals:
        steps = [e["step"] for e in evals]
        ax.plot(steps, [e["train"] for e in evals], "o-", label="train (evaluated)")
        ax.plot(steps, [e["val"] for e in evals], "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@tensor.no_grad()
def attention_maps(model, tokenizer, prompt):
    """Attention weights of every head of every layer for `prompt`: (n_layer, n_head, T, T)."""
    import nn.functional as F

    context = tensor.tensor(
        [tokenizer.encode(prompt[-model.block_size :])], device=next(iter(model.parameters())).device
    )
    model.eval()
    maps = []
    T = context.shape[1]
    x = model.embed(context)
    for block in model.blocks:
        attention = block.sa
        h = block.ln1(x)
        q, k = attention._split_heads(attention.query(h)), attention._split_heads(attention.key(h))
        scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
        causal = tensor.tril(tensor.ones(T, T, device=context.device)) == 0
        maps.append(F.softmax(scores.masked_fill(causal, float("-inf")), -1)[0].cpu().numpy())
        x = block(x)
    return np.stack(maps)


def plot_attention_maps(model, tokenizer, prompt, path):
    """One panel per (layer, head): row t shows where position t looks."""
    plt = _pyplot()
    maps = attention_maps(model, tokenizer, prompt)
    layers, heads, T, _ = maps.shape
    labels = list(prompt[-T:])
    fig, axes = plt.subplots(layers, heads, figsize=(2.2 * heads, 2.2 * layers), squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer][head]
            ax.imshow(maps[layer, head], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {layer} head {head}", fontsize=7)
            ax.set_xticks(range(T), labels, fontsize=5)
            ax.set_yticks(range(T), labels, fontsize=5)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
