"""The transformer block, version by version: attention, then computation, then what makes depth trainable."""

import nn
import tensor


class FeedForward(nn.Module):
    """Per-position computation after attention has gathered context: Linear(C, 4C), ReLU, Linear(4C, C).

    Attention only mixes tokens (a weighted average of values); this is where each
    token "thinks about" what it gathered, independently of the others.
    """

    def __init__(self, embed_size):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(embed_size, 4 * embed_size), nn.ReLU(), nn.Linear(4 * embed_size, embed_size)
        )

    def forward(self, x):
        return self.net(x)


class LayerNorm(nn.Module):
    """The course's layer normalization: gamma * (x - mean) / (std + eps) + beta over the last dim.

    Each position's features get mean 0 and spread 1, then a learned scale `gamma` and
    shift `beta`. As the course writes it, std is the unbiased standard deviation
    (divided by n - 1) and eps=1e-6 is added to it; nn.LayerNorm (the paper's, PyTorch's)
    divides by sqrt(biased variance + eps) instead. The outputs differ by the factor
    sqrt((n - 1) / n) and where eps enters (docs/lessons.md, "The course and the paper").
    """

    def __init__(self, features, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(tensor.ones(features))
        self.beta = nn.Parameter(tensor.zeros(features))

    def forward(self, x):
        mean = x.mean(-1, keepdim=True)  # (B, T, 1)
        std = x.std(-1, keepdim=True)  # (B, T, 1), unbiased
        return self.gamma * (x - mean) / (std + self.eps) + self.beta


class BlockVer1(nn.Module):
    """Version 1: attention (communication between tokens), then feed-forward (computation per token)."""

    def __init__(self, head, embed_size):
        super().__init__()
        self.head = head
        self.ffwd = FeedForward(embed_size)

    def forward(self, x):
        return self.ffwd(self.head(x))


class BlockVer2(BlockVer1):
    """Version 2: residual connections, x + f(x).

    The sum passes the gradient straight through to earlier blocks (d(x + f(x))/dx =
    1 + f'(x)), so a deep stack trains; each block only learns a correction to x.
    """

    def forward(self, x):
        x = x + self.head(x)
        return x + self.ffwd(x)


class BlockVer3(BlockVer1):
    """Version 3: LayerNorm (the course's), so activations keep a fixed scale however deep the stack.

    norm="post" (the default, as the course and the original Transformer): LN(x + f(x)).
    norm="pre" (GPT-2, and the full GPT here): x + f(LN(x)), the residual path stays
    clean; post-LN needs warm-up at high learning rates because gradients near the
    output are larger (Xiong et al., 2020). A lesson test shows both effects.
    """

    def __init__(self, head, embed_size, norm="post"):
        super().__init__(head, embed_size)
        if norm not in ("pre", "post"):
            raise ValueError(f"norm must be 'pre' or 'post', got {norm!r}")
        self.norm = norm
        self.ln1 = LayerNorm(embed_size)
        self.ln2 = LayerNorm(embed_size)

    def forward(self, x):
        if self.norm == "pre":
            x = x + self.head(self.ln1(x))
            return x + self.ffwd(self.ln2(x))
        x = self.ln1(x + self.head(x))
        return self.ln2(x + self.ffwd(x))


class BlockVer4(BlockVer3):
    """Version 4: dropout on what attention and feed-forward add to the residual stream.

    Each sublayer is followed by its Dropout: head = Sequential(head, Dropout(p)) and
    ffwd = Sequential(FeedForward(C), Dropout(p)), so the state dict keys are
    `head.0....` and `ffwd.0.net.0.weight`. In training each unit is dropped with
    probability `dropout`, so the network cannot rely on any single path: a
    regularizer against overfitting. In eval it is the identity.
    """

    def __init__(self, head, embed_size, dropout, norm="post"):
        super().__init__(head, embed_size, norm=norm)
        self.head = nn.Sequential(head, nn.Dropout(dropout))
        self.ffwd = nn.Sequential(FeedForward(embed_size), nn.Dropout(dropout))
