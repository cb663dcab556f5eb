# ruff: noqa  (PyTorch-tutorial style as users write it; `record` is given by tests/conformance/test_programs.py)
# A classifier whose layers live in a ModuleDict, fed from NumPy with torch.from_numpy; SGD, batches by split.
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

rng = np.random.default_rng(0)
features = rng.standard_normal((96, 5)).astype(np.float32)
labels = (features[:, 0] + features[:, 1] * features[:, 2] > 0).astype(np.int64) + (features[:, 3] > 1)
X = torch.from_numpy(features)
y = torch.from_numpy(labels)


class Classifier(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.layers = nn.ModuleDict(
            {
                "hidden": nn.Linear(n_in, n_hidden),
                "norm": nn.LayerNorm(n_hidden),
                "out": nn.Linear(n_hidden, n_out),
            }
        )
        self.act = nn.Tanh()

    def forward(self, x):
        h = self.act(self.layers["norm"](self.layers["hidden"](x)))
        return self.layers["out"](h)


model = Classifier(5, 12, 3)
model.load_state_dict(
    {
        k: torch.from_numpy((rng.standard_normal(tuple(v.shape)) * 0.5).astype(np.float32))
        for k, v in sorted(model.state_dict().items())
    }
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
for epoch in range(8):
    for xb, yb in zip(torch.split(X, 32), y.split(32)):
        loss = F.cross_entropy(model(xb), yb, label_smoothing=0.05)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 0.05)
        optimizer.step()
        record(loss.item())
    with torch.no_grad():
        logits = model(X)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        top2 = (logits.topk(2, dim=1).indices == y[:, None]).any(dim=1).float().mean()
    record(accuracy.item())
    print(f"epoch {epoch}: loss {loss:.4f} accuracy {accuracy:.3f} top-2 {top2:.3f}")
for name in model.layers:
    print(name, tuple(model.layers[name].weight.shape))
