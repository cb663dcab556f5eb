"""Exact resume with dropout on "cuda", proven on the CuPy stand-in (fake_cuda) in every pass.

CuPy's generators cannot save their state, so the checkpoint holds the "cuda" generator's
seed and count of draws (tensor.cuda.get_rng_state); a resumed run draws the same dropout
masks as one that never stopped.
"""

import tensor
from tinygrad_gpt import GPTConfig, TrainConfig, train

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
SMALL = GPTConfig(block_size=16, n_embd=16, n_head=2, n_layer=2, dropout=0.2)


def config(path, steps):
    return TrainConfig(steps=steps, batch_size=4, eval_interval=4, eval_iters=1, out_dir=str(path), device="cuda")


def quiet_train(train_config, resume=False):
    return train(SMALL, train_config, TEXT, resume=resume, progress=False, log=lambda message: None)


def test_a_resumed_run_on_cuda_with_dropout_produces_the_same_losses(fake_cuda, tmp_path):
    straight = quiet_train(config(tmp_path / "straight", 12))
    quiet_train(config(tmp_path / "stopped", 8))  # stops at step 8, with a checkpoint
    tensor.manual_seed(12345)  # a new process would start from other generator states
    tensor.rand(5, device="cuda")
    resumed = quiet_train(config(tmp_path / "stopped", 12), resume=True)
    assert resumed.train_losses == straight.train_losses  # bit-for-bit, dropout's draws included
    assert resumed.evals == straight.evals


def test_dropout_on_cuda_draws_from_the_cuda_generator(fake_cuda, tmp_path):
    """Else the test above would pass with nothing to restore."""
    quiet_train(config(tmp_path, 2))
    assert tensor.cuda.get_rng_state()["draws"] > 0
