# ruff: noqa  (PyTorch-tutorial style as users write it; `record` is given by tests/conformance/test_programs.py)
# Logistic regression in an older tutorial style: legacy constructors, chunks, device checks, manual lr decay.
import torch
import torch.nn as nn
import torch.nn.functional as F

device = torch.device("cuda") if torch.cuda.is_available() else "cpu"
print("devices:", torch.cuda.device_count())
inputs = torch.FloatTensor(
    [[0.5, 1.0], [1.5, -0.5], [-1.0, 2.0], [2.0, 2.0], [-1.5, -1.0], [0.1, 0.3], [1.2, 0.8], [-0.7, 0.4]]
)
targets = torch.LongTensor([1, 0, 1, 1, 0, 0, 1, 0])
inputs, targets = inputs.to(device), targets.to(device)
weights = torch.DoubleTensor([[0.1, -0.2], [0.3, 0.05]]).float()
model = nn.Linear(2, 2)
model.load_state_dict({"weight": weights, "bias": torch.FloatTensor([0.0, 0.1])})
model = model.to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=0.1, betas=(0.8, 0.95), weight_decay=0.01)
for epoch in range(12):
    total = 0.0
    for xb, yb in zip(inputs.chunk(3), targets.chunk(3)):
        loss = F.cross_entropy(model(xb), yb, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    for group in optimizer.param_groups:
        group["lr"] *= 0.9
    record(total)
    print(f"epoch {epoch:2d} loss {total:8.4f}")
predictions = model(inputs).argmax(-1)
print(
    "correct:",
    int((predictions == targets).sum()),
    "of",
    len(targets),
    "as",
    torch.IntTensor(predictions.tolist()).dtype,
)
