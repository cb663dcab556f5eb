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


def _save(fig, path):
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def loss_curve_figure(train_losses, evals, learning_rates=None):
    """Per-step training loss (light) and the evaluated train/val losses: dots joined by a line.

    With learning_rates (one per step), the schedule is drawn on a second y axis, on the right.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(train_losses) + 1), train_losses, alpha=0.3, label="train (per step)")
    if evals:
        steps = [e["step"] for e in evals]
        ax.plot(steps, [e["train"] for e in evals], "o-", label="train (evaluated)")
        ax.plot(steps, [e["val"] for e in evals], "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    handles, labels = ax.get_legend_handles_labels()
    if learning_rates:
        lr_axis = ax.twinx()
        steps = np.arange(1, len(learning_rates) + 1)
        lr_axis.plot(steps, learning_rates, color="tab:gray", linestyle="--", label="learning rate")
        lr_axis.set_ylabel("learning rate")
        lr_axis.set_ylim(bottom=0)
        lr_handles, lr_labels = lr_axis.get_legend_handles_labels()
        handles, labels = handles + lr_handles, labels + lr_labels
    ax.legend(handles, labels)  # one legend for both axes
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_loss_curve(train_losses, evals, path, learning_rates=None):
    """The loss curve (loss_curve_figure), saved as a PNG."""
    return _save(loss_curve_figure(train_losses, evals, learning_rates), path)


@tensor.no_grad()
def attention_maps(model, tokenizer, prompt):
    """Attention weights of every head of every layer of a GPT for `prompt`: (n_layer, n_head, T, T).

    The model is run in eval mode (no dropout) and left in the mode it was in.
    """
    device = next(iter(model.parameters())).device
    context = tensor.tensor([tokenizer.encode(prompt[-model.block_size :])], device=device)  # (1, T)
    was_training = model.training
    model.eval()
    try:
        maps = []
        x = model.embed(context)  # (1, T, C)
        for block in model.blocks:
            maps.append(block.sa.attention_weights(block.ln1(x), is_causal=True)[0].cpu().numpy())  # (heads, T, T)
            x = block(x)
    finally:
        model.train(was_training)
    return np.stack(maps)


def _tick_label(token):
    """A token's text as a readable tick label: whitespace spelled out."""
    return "".join({" ": "␣", "\n": "\\n", "\t": "\\t"}.get(char, char) for char in token)


def attention_figure(maps, labels):
    """One panel per (layer, head) of maps (n_layer, n_head, T, T): row = query position, column =
    key position it attends to, colour = weight (one shared colour bar, 0 to 1)."""
    plt = _pyplot()
    layers, heads, T, _ = maps.shape
    ticks = [_tick_label(c) for c in labels]
    fig, axes = plt.subplots(
        layers, heads, figsize=(2.6 * heads + 1, 2.6 * layers), squeeze=False, layout="constrained"
    )
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer][head]
            image = ax.imshow(maps[layer, head], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {layer} head {head}", fontsize=8)
            ax.set_xticks(range(T), ticks, fontsize=6)
            ax.set_yticks(range(T), ticks, fontsize=6)
            ax.set_xlabel("key (attended to)", fontsize=7)
            ax.set_ylabel("query (attending)", fontsize=7)
    fig.colorbar(image, ax=axes, label="attention weight", shrink=0.8)
    return fig


def plot_attention_maps(model, tokenizer, prompt, path):
    """The attention maps of `prompt` (attention_figure), saved as a PNG."""
    maps = attention_maps(model, tokenizer, prompt)
    tokens = tokenizer.encode(prompt[-model.block_size :])
    return _save(attention_figure(maps, [tokenizer.decode([t]) for t in tokens]), path)
