"""A GPT training step on "cuda" waits for the GPU only where it must: host reads are counted by the stand-in.

Each device-to-host read stalls the Python thread until every queued kernel has run, so a step
that reads back a few numbers per layer cannot keep a GPU busy. Reading the loss is the caller's
choice (train.py does it once per step); everything else the step itself reads is counted here.
"""

import numpy as np
import pytest

import tensor
from tensor import optim
from tinygrad_gpt import GPT, GPTConfig

MAX_READS_PER_STEP = 3


def training_step(model, optimizer, x, y):
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


@pytest.mark.parametrize("n_layer", [2, 4])
def test_a_gpt_training_step_reads_the_device_at_most_three_times_besides_the_loss(fake_cuda, n_layer):
    config = GPTConfig(vocab_size=11, block_size=8, n_embd=16, n_head=2, n_layer=n_layer, dropout=0.1)
    model = GPT(config).to("cuda")
    optimizer = optim.AdamW(model.parameters(), lr=1e-3)
    x = tensor.randint(0, config.vocab_size, (3, config.block_size), device="cuda")
    y = tensor.randint(0, config.vocab_size, (3, config.block_size), device="cuda")
    training_step(model, optimizer, x, y)  # the first step makes the optimizer's state
    start = len(fake_cuda.host_reads)
    loss = training_step(model, optimizer, x, y)
    reads = fake_cuda.host_reads.log[start:]
    assert isinstance(loss.item(), float)
    assert len(reads) <= MAX_READS_PER_STEP, f"{len(reads)} host reads in one step:\n" + "\n".join(
        f"  {what} at {where}" for what, where in reads
    )


def test_the_count_sees_a_read_in_the_step(fake_cuda):
    """The counter is live in this setting: one .item() is one read, and naming its line."""
    x = tensor.ones(3, device="cuda")
    start = len(fake_cuda.host_reads)
    (x * 2).sum().item()
    assert [what for what, _ in fake_cuda.host_reads.log[start:]] == ["item()"]


def test_the_gemm_peak_on_cuda_synchronises_around_each_timed_product(fake_cuda):
    """A GPU's product is only timed once the device has finished it (a small size keeps this fast)."""
    from benchmarks import measure

    start = len(fake_cuda.host_reads)
    assert measure.gemm_peak_gflops("cuda", size=64, repeats=2) > 0
    synchronisations = [what for what, _ in fake_cuda.host_reads.log[start:] if "synchronize" in what]
    assert len(synchronisations) == 2 * 3  # before and after each of the repeats + 1 runs
    assert measure.GEMM_PEAK_SIZE["cuda"] >= 8192 > measure.GEMM_PEAK_SIZE["cpu"]


@pytest.mark.usefixtures("fast_kernels")  # CUDA graphs: an engine-room device
@pytest.mark.parametrize("name", ["ours-lecture-graph", "ours-gpt-graph"])
def test_a_replayed_step_reads_the_device_once_for_its_index_checks(fake_cuda, name):
    """The benchmarks' CUDA graph steps (benchmarks/implementations.py), replayed on the stand-in: one read
    per replay (the recorded embedding index checks), against the eager step's two."""
    from benchmarks.implementations import make_step

    config = {"batch": 2, "block": 8, "n_embd": 16, "n_head": 2, "n_layer": 2, "vocab": 13}
    replay = make_step(name, config, device="cuda")
    for _ in range(2):
        start = len(fake_cuda.host_reads)
        replay()
        assert [what for what, _ in fake_cuda.host_reads.log[start:]] == ["get()"]


@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
def test_clipping_the_gradients_reads_nothing_and_scales_as_on_the_cpu(fake_cuda, norm_type):
    """clip_grad_norm_ computes its scale on the device, as PyTorch does: a training loop that clips
    (tinygrad_gpt/train.py) does not wait for the GPU there, and a CUDA graph can record it."""
    import nn

    grads = {}
    for device in ("cpu", "cuda"):
        tensor.manual_seed(0)
        params = [tensor.randn(*shape, device=device, requires_grad=True) for shape in ((4, 3), (5,), (0,))]
        for p, k in zip(params, (3.0, -2.0, 1.0)):
            (p * k).sum().backward()
        start = len(fake_cuda.host_reads)
        total = nn.utils.clip_grad_norm_(params, 1.5, norm_type=norm_type)
        assert device == "cpu" or fake_cuda.host_reads.log[start:] == []
        grads[device] = [p.grad.cpu().numpy() for p in params] + [total.cpu().numpy()]
    for on_cpu, on_cuda in zip(grads["cpu"], grads["cuda"]):
        assert on_cpu.tolist() == on_cuda.tolist()
    *clipped, total = grads["cpu"]
    assert total > 1.5  # the gradients were clipped: their norm now is max_norm
    norm = np.sqrt(sum((g**2).sum() for g in clipped)) if norm_type == 2.0 else max(abs(g).max() for g in clipped[:2])
    assert norm == pytest.approx(1.5, rel=1e-5)
