"""In reference mode a training step runs the textbook only: no line of any fast/ folder runs (forward,
backward, the optimizer's update, zero_grad), and no thread is started. Fast mode, by contrast, runs the
engine room (so the trace below would see it)."""

import os
import subprocess
import sys
import threading

import pytest

import nn
import tensor
from tensor import optim
from tinygrad_gpt import GPT, GPTConfig

CONFIG = GPTConfig(vocab_size=11, block_size=8, n_embd=16, n_head=2, n_layer=2, dropout=0.1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tensor.__file__)))
LIBRARY = tuple(os.path.join(ROOT, package) + os.sep for package in ("tensor", "nn", "tinygrad_gpt"))
FAST_FOLDER = os.sep + "fast" + os.sep


def _nn_calls_its_fast_paths_directly():
    """True while nn/functional.py imports from a fast/ folder: the nn side of the textbook/engine-room split
    (nn/fast's stand-ins) is not in yet, so its devices run in both modes."""
    with open(os.path.join(ROOT, "nn", "functional.py")) as source:
        return any(line.startswith(("from .fast", "from tensor.fast", "import tensor.fast")) for line in source)


def lecture_model():
    """The lecture GPT as learners write it (one module per head)."""
    from benchmarks.lecture_model import GPTLanguageModel

    c = CONFIG
    return GPTLanguageModel(c.vocab_size, c.block_size, c.n_embd, c.n_head, c.n_layer, c.dropout)


MODELS = {"GPT": lambda: GPT(CONFIG), "lecture model": lecture_model}


def files_run_by_a_training_step(make_model, clear):
    """The source files of every Python function that one step (after a warm-up step) calls."""
    tensor.manual_seed(0)
    model = make_model()
    optimizer = optim.AdamW(model.parameters(), lr=1e-3)
    x = tensor.randint(0, CONFIG.vocab_size, (4, CONFIG.block_size))
    y = tensor.randint(0, CONFIG.vocab_size, (4, CONFIG.block_size))

    def step():
        _, loss = model(x, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        clear(optimizer, model)

    step()  # warm-up: the optimizer's state is made
    files = set()

    def trace(frame, event, arg):  # a "call": one per Python function entered
        callee, caller = frame.f_code.co_filename, frame.f_back and frame.f_back.f_code.co_filename
        if callee.startswith(LIBRARY):
            files.add((callee, caller))

    sys.settrace(trace)
    try:
        step()
    finally:
        sys.settrace(None)
    return files


CLEARS = {
    "optimizer.zero_grad": lambda optimizer, model: optimizer.zero_grad(),
    "module.zero_grad": lambda optimizer, model: model.zero_grad(),
}


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("clear", list(CLEARS))
def test_in_reference_mode_the_tensor_textbook_calls_nothing_under_fast(kernels, model, clear):
    """No call from tensor/'s textbook (engine, ops, optimizers, backend) into a fast/ folder, no thread."""
    kernels("reference")
    threads_before = threading.active_count()
    calls = files_run_by_a_training_step(MODELS[model], CLEARS[clear])
    assert any(callee.endswith(os.path.join("optim", "optimizer.py")) for callee, _ in calls)  # the trace sees it
    tensor_textbook = os.path.join(ROOT, "tensor") + os.sep
    into_fast = {
        (callee, caller)
        for callee, caller in calls
        if FAST_FOLDER in callee and caller.startswith(tensor_textbook) and FAST_FOLDER not in caller
    }
    assert sorted(into_fast) == []
    assert threading.active_count() == threads_before


@pytest.mark.skipif(_nn_calls_its_fast_paths_directly(), reason="nn/functional.py still calls nn/fast directly")
@pytest.mark.parametrize("model", list(MODELS))
def test_a_training_step_in_reference_mode_runs_no_line_under_fast(kernels, model):
    """The whole step: forward, backward, AdamW's update and zero_grad, in tensor/, nn/ and tinygrad_gpt/."""
    kernels("reference")
    calls = files_run_by_a_training_step(MODELS[model], CLEARS["module.zero_grad"])
    assert sorted({callee for callee, _ in calls if FAST_FOLDER in callee}) == []


def test_a_training_step_in_fast_mode_runs_the_tensor_side_engine_room(kernels):
    calls = files_run_by_a_training_step(MODELS["GPT"], CLEARS["optimizer.zero_grad"])
    ran = {os.path.basename(callee) for callee, _ in calls if os.path.join("tensor", "fast") in callee}
    assert {"adam.py", "grad_buffers.py"} <= ran


def test_the_switch_and_the_thread_count_are_public_in_both_modes(kernels):
    before = tensor.get_num_threads()
    for mode in ("reference", "fast"):
        tensor.set_kernels(mode)
        assert tensor.get_kernels() == mode
        tensor.set_num_threads(1)
        assert tensor.get_num_threads() == 1
        tensor.set_num_threads(before)
    with pytest.raises(ValueError, match="'reference', 'fast'"):
        tensor.set_kernels("quick")
    assert {"BLAS thread policy", "flat Adam step", "gradient buffers", "CUDA graphs"} <= set(tensor.kernels.devices())


def test_a_bad_kernels_mode_in_the_environment_stops_the_import_with_one_line_naming_the_allowed_ones():
    env = {**os.environ, "TINYGRAD_GPT_KERNELS": "quick"}
    result = subprocess.run([sys.executable, "-c", "import tensor"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: TINYGRAD_GPT_KERNELS='quick' is not a kernels mode: set it to 'reference' or 'fast', or unset it"
    ]


def test_a_tensors_repr_names_the_textbook_function_in_both_modes():
    """grad_fn in a repr is the formula's name (Where, Matmul), not the name of the engine room's stand-in."""
    x = tensor.tensor([1.0, -2.0], requires_grad=True)
    shown = {}
    for mode in ("reference", "fast"):
        with tensor.kernels.using(mode):
            shown[mode] = (repr(tensor.where(x > 0, x, 0.0)), repr(x @ x))
    assert shown["fast"] == shown["reference"]
    assert "grad_fn=Where" in shown["fast"][0] and "grad_fn=Matmul" in shown["fast"][1]
