"""CUDA graphs (tensor.cuda.CUDAGraph): a training step recorded once and replayed.

The tests run everywhere on the CuPy stand-in (the `fake_cuda` fixture), which captures as CUDA does:
a read of the device raises while a graph is captured, a captured operation runs only when the graph
is launched (after the capture, arrays from before hold their old values and new ones garbage), and a
launch runs every recorded operation again on the memory it recorded (tests/support/fake_cupy_graph.py).
So a whole training step captured there reads nothing, what must not be recorded (a non-capturable
Adam, a random draw, a synchronize) raises and leaves no capture behind, and replays equal the same
steps run one op at a time. Where a GPU is present the replaying tests run on it as well, with CuPy's
kernels and cuBLAS; that arrays made after a capture survive its replays (the capture's memory pool is
its own) is a GPU's matter only: the stand-in never hands memory out twice.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nn
import tensor
from tensor import optim
from tests.conftest import CUDA_AVAILABLE, FAKE_CUPY
from tinygrad_gpt import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("fast_kernels")  # CUDA graphs are an engine-room device (tensor/fast/)

CONFIG = GPTConfig(vocab_size=13, block_size=8, n_embd=16, n_head=2, n_layer=2)
needs_a_gpu = pytest.mark.skipif(FAKE_CUPY or not CUDA_AVAILABLE, reason="replays a CUDA graph: needs a GPU")
ON_BOTH = pytest.mark.parametrize("where", ["stand-in", pytest.param("GPU", marks=needs_a_gpu)])


def on(where, request):
    """Run the test on the stand-in (installed for it) or, for "GPU", on CuPy and the GPU."""
    return request.getfixturevalue("fake_cuda") if where == "stand-in" else None


def lecture_model(config):
    """The lecture GPT as learners write it (benchmarks/lecture_model.py): one module per head, so its
    backward joins 3 * n_head gradients in one product (LinearGradients)."""
    from benchmarks.lecture_model import GPTLanguageModel

    c = config
    return GPTLanguageModel(c.vocab_size, c.block_size, c.n_embd, c.n_head, c.n_layer, c.dropout)


def setup(config=CONFIG, capturable=True, seed=0, model_type=GPT):
    """A GPT on "cuda", its AdamW, fixed input tensors and a step that trains on them (gradients clipped)."""
    tensor.manual_seed(seed)
    model = model_type(config).to("cuda")
    optimizer = optim.AdamW(model.parameters(), lr=1e-2, capturable=capturable)
    x = tensor.randint(0, config.vocab_size, (3, config.block_size), device="cuda")
    y = tensor.randint(0, config.vocab_size, (3, config.block_size), device="cuda")
    outputs = {}

    def step():  # as tinygrad_gpt/train.py's loop, clipping included
        _, outputs["loss"] = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        outputs["loss"].backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return model, optimizer, x, y, step, outputs


def assert_no_capture_left(fake_cuda):
    assert not tensor.cuda.is_current_stream_capturing()
    assert fake_cuda.cuda.get_current_stream() is fake_cuda.cuda.Stream.null
    assert fake_cuda.cuda.capturing is None and fake_cuda.cuda._allocators == []
    assert tensor.ones(2, device="cuda").sum().item() == 2.0  # the device can be read again


# ----- capture, on the stand-in -------------------------------------------------------------------------------


def test_a_training_step_is_captured_without_a_read_of_the_device(fake_cuda):
    model, optimizer, x, y, step, outputs = setup()
    step()
    step()  # warm: the gradients and the optimizer's state exist
    graph = tensor.cuda.CUDAGraph()
    with tensor.cuda.graph(graph):
        assert tensor.cuda.is_current_stream_capturing()
        assert fake_cuda.cuda.get_current_stream() is not fake_cuda.cuda.Stream.null
        assert len(fake_cuda.cuda._allocators) == 1  # the capture's own pool serves its allocations
        step()  # a read of the device here would raise (the stand-in does as CUDA does)
    assert_no_capture_left(fake_cuda)
    # the index checks that read the device were recorded instead: token and position embeddings
    # (a bad target on "cuda" makes the loss NaN: cross_entropy reads nothing there)
    assert [message.split(" is")[0] for message in graph._index_messages] == ["embedding: index {}"] * 2


def test_a_read_of_the_device_while_capturing_raises_and_leaves_no_capture(fake_cuda):
    with pytest.raises(fake_cuda.cuda.CUDARuntimeError, match="capturing"):
        with tensor.cuda.graph(tensor.cuda.CUDAGraph()):
            tensor.ones(3, device="cuda").sum().item()
    assert_no_capture_left(fake_cuda)


def test_capturing_adam_without_capturable_raises_as_pytorch(fake_cuda):
    *_, step, _ = setup(capturable=False)
    step()
    graph = tensor.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="capturable is False"):
        with tensor.cuda.graph(graph):
            step()
    assert_no_capture_left(fake_cuda)
    with pytest.raises(RuntimeError, match="needs a captured graph"):
        graph.replay()  # the failed capture left nothing to replay


def test_a_random_draw_while_capturing_raises(fake_cuda):
    """Dropout's mask would be recorded once and repeated by every replay: refused instead."""
    *_, step, _ = setup(GPTConfig(**{**CONFIG.__dict__, "dropout": 0.1}))
    step()
    with pytest.raises(RuntimeError, match="random draw"):
        with tensor.cuda.graph(tensor.cuda.CUDAGraph()):
            step()
    assert_no_capture_left(fake_cuda)
    with tensor.cuda.graph(tensor.cuda.CUDAGraph()):
        nn.functional.dropout(tensor.ones(4, device="cuda"), p=0.5, training=False)  # no draw: fine


def test_synchronize_while_capturing_raises(fake_cuda):
    with pytest.raises(RuntimeError, match="synchronize.*CUDA graph capture"):
        with tensor.cuda.graph(tensor.cuda.CUDAGraph()):
            tensor.cuda.synchronize()
    assert_no_capture_left(fake_cuda)


def test_captures_do_not_nest_and_a_graph_is_captured_once(fake_cuda):
    outer, inner = tensor.cuda.CUDAGraph(), tensor.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="do not nest"):
        with tensor.cuda.graph(outer):
            with tensor.cuda.graph(inner):
                pass
    assert_no_capture_left(fake_cuda)
    with tensor.cuda.graph(outer):
        tensor.ones(2, device="cuda") * 2
    with pytest.raises(RuntimeError, match="reset"):
        outer.capture_begin()
    outer.reset()
    with tensor.cuda.graph(outer):  # after reset() it can capture again
        tensor.ones(2, device="cuda") * 2
    with pytest.raises(RuntimeError, match="without capture_begin"):
        inner.capture_end()


LAYOUTS = {  # how an operand of a given shape is made from a C-ordered base: (base shape, view)
    "C-ordered": (lambda shape: shape, lambda base: base),
    "transposed": (lambda shape: shape[:-2] + shape[-2:][::-1], lambda base: base.swapaxes(-1, -2)),
    "every other column": (lambda shape: shape[:-1] + (2 * shape[-1],), lambda base: base[..., ::2]),
}


@st.composite
def products(draw):
    """(a's base, its view, b's base, its view): batch dims that broadcast, every layout, 1-D operands."""
    m, k, n = draw(st.integers(1, 6)), draw(st.integers(0, 6)), draw(st.integers(1, 6))
    batch_a = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    batch_b = draw(st.sampled_from([batch_a, batch_a[1:], (), tuple(1 for _ in batch_a)]))
    shape_a, shape_b = batch_a + (m, k), batch_b + (k, n)
    if not batch_a and not batch_b and draw(st.booleans()):  # 1-D operands: a, b or both
        shape_a, shape_b = draw(st.sampled_from([((k,), shape_b), (shape_a, (k,)), ((k,), (k,))]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    operands = []
    for shape in (shape_a, shape_b):
        base_shape, view = LAYOUTS[draw(st.sampled_from(sorted(LAYOUTS)))] if len(shape) >= 2 else LAYOUTS["C-ordered"]
        operands += [rng.standard_normal(base_shape(shape)).astype(dtype), view]
    return operands


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)  # the fixture holds no state
@given(products(), st.booleans())
def test_a_product_while_capturing_equals_numpys(fake_cuda, product, into_a_view):
    """Row-major operands, their transposed and strided views and broadcast batches, presented to a
    column-major cuBLAS: every layout gives NumPy's a @ b when the graph is replayed."""
    base_a, view_a, base_b, view_b = product
    expected = view_a(base_a) @ view_b(base_b)
    a, b = view_a(fake_cuda.asarray(base_a)), view_b(fake_cuda.asarray(base_b))
    out = fake_cuda.zeros(expected.shape[::-1], dtype=expected.dtype).T if into_a_view else None
    graph = tensor.cuda.CUDAGraph()
    with tensor.cuda.graph(graph):
        result = graph.matmul(a, b, out)
    graph.replay()  # the capture only recorded the product
    assert result.shape == expected.shape and result.dtype == expected.dtype
    np.testing.assert_allclose(result.get(), expected, rtol=1e-5, atol=1e-6)
    assert result is out or out is None


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (2, 3, 4))], ids=str)
def test_a_product_with_a_one_d_operand_while_capturing_has_numpys_shape(fake_cuda, shapes):
    a, b = (np.arange(np.prod(shape), dtype=np.float64).reshape(shape) / 7 for shape in shapes)
    device_a, device_b = fake_cuda.asarray(a), fake_cuda.asarray(b)  # before: a copy from the host is refused
    graph = tensor.cuda.CUDAGraph()
    with tensor.cuda.graph(graph):
        result = graph.matmul(device_a, device_b)
    graph.replay()
    assert result.shape == (a @ b).shape
    np.testing.assert_allclose(result.get(), a @ b, rtol=1e-12)


def test_a_cublas_that_does_not_compute_as_called_refuses_every_capture(fake_cuda, monkeypatch):
    """The first capture checks the hand-written cuBLAS call against CuPy's products: a library that
    ignores one argument (here: transposed operands taken as stored) makes captures raise, not miscompute."""
    from tests.support.fake_cupy_cublas import Library

    class IgnoresTranspose(Library):
        def _gemm(self, name, scalar, handle, transa, transb, *rest):
            return super()._gemm(name, scalar, handle, 0, 0, *rest)

    monkeypatch.setattr(tensor.fast.cublas, "_loaded", {"library": IgnoresTranspose()})
    for _ in range(2):  # and again: a failed check is not remembered as passed
        with pytest.raises(RuntimeError, match=r"CUDA graphs are not available here.*transposed"):
            with tensor.cuda.graph(tensor.cuda.CUDAGraph()):
                pass
        assert_no_capture_left(fake_cuda)


def test_the_cublas_called_is_cupys_among_the_mapped_libraries():
    """The path of CuPy's cuBLAS (its CUDA major version) among the libraries a process maps, PyTorch's too."""
    maps = [
        "7f10-7f20 r-xp 00000000 08:01 11 /venv/nvidia/cu12/lib/libcublas.so.12",
        "7f20-7f30 r-xp 00000000 08:01 12 /venv/nvidia/cu13/lib/libcublasLt.so.13",
        "7f30-7f40 r-xp 00000000 08:01 13 /venv/nvidia/cu13/lib/libcublas.so.13",
        "7f40-7f50 r--p 00000000 08:01 13 /venv/nvidia/cu13/lib/libcublas.so.13",
        "7f50-7f60 r-xp 00000000 08:01 14 /usr/lib/libm.so.6",
    ]
    assert tensor.fast.cublas._library_path(maps, 13) == "/venv/nvidia/cu13/lib/libcublas.so.13"
    assert tensor.fast.cublas._library_path(maps, 12) == "/venv/nvidia/cu12/lib/libcublas.so.12"
    assert tensor.fast.cublas._library_path(maps[2:3], 12) == "/venv/nvidia/cu13/lib/libcublas.so.13"  # the only one
    with pytest.raises(RuntimeError, match="warm-up"):
        tensor.fast.cublas._library_path(maps[1:2] + maps[4:], 13)  # cublasLt and libm are not cuBLAS


# ----- capturable Adam ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["stand-in", pytest.param("GPU", marks=needs_a_gpu)])
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_capturable_adam_takes_the_same_steps_with_its_count_on_the_device(request, name, where):
    """On the stand-in, the array operations with the count on the device; on a GPU, the kernel that
    makes the bias corrections from it (_ADAM_BIAS_FROM_STEP_CUDA) against the one given them."""
    if where == "stand-in":
        request.getfixturevalue("fake_cuda")
    trajectories = []
    for capturable in (False, True):
        tensor.manual_seed(3)
        w = tensor.randn(4, 5, device="cuda", requires_grad=True)
        optimizer = getattr(optim, name)([w], lr=0.1, weight_decay=0.1, capturable=capturable)
        for _ in range(4):
            optimizer.zero_grad()
            ((w * w).sum() + w.sum()).backward()
            optimizer.step()
        step = optimizer.state[id(w)]["step"]
        assert isinstance(step, int) != capturable  # capturable: a 0-d array on the device
        trajectories.append((w.detach().cpu().numpy(), optimizer))
    np.testing.assert_allclose(trajectories[1][0], trajectories[0][0], rtol=1e-6, atol=1e-7)
    saved = trajectories[1][1].state_dict()
    assert saved["state"][0]["step"].item() == 4 and saved["param_groups"][0]["capturable"] is True
    w = tensor.tensor(trajectories[1][0], device="cuda", requires_grad=True)
    resumed = getattr(optim, name)([w], lr=0.1, weight_decay=0.1)
    resumed.load_state_dict(saved)
    assert resumed.state[id(w)]["step"] == 4 and resumed.param_groups[0]["capturable"] is True
    resumed.state[id(w)]["step"] = np.int64(4)  # a count read back from a file as a NumPy integer
    (w * w).sum().backward()
    resumed.step()
    assert not isinstance(resumed.state[id(w)]["step"], (int, np.integer))  # moved to the device as well


def test_capturable_adam_refuses_a_parameter_on_the_cpu():
    w = tensor.ones(3, requires_grad=True)
    optimizer = optim.Adam([w], capturable=True)
    w.sum().backward()
    with pytest.raises(RuntimeError, match=r"capturable=True.*shape \(3,\) is on 'cpu'"):
        optimizer.step()


# ----- replay, on a GPU ----------------------------------------------------------------------------------------


@ON_BOTH
@pytest.mark.parametrize("model_type", [GPT, lecture_model], ids=["GPT", "lecture model"])
def test_replayed_steps_equal_the_same_steps_run_one_op_at_a_time(request, where, model_type):
    """Six batches: two steps one op at a time, a captured step, then replays, each on new data copied into
    the tensors the graph reads, against six steps one op at a time: losses, parameters and gradients.
    The lecture model (4 heads) joins 12 gradients in one product, which CuPy would do through a table
    copied from the host: the stand-in refuses that while capturing, as the library must avoid it."""
    on(where, request)
    config = GPTConfig(**{**CONFIG.__dict__, "n_head": 4})
    batches = [
        tuple(tensor.randint(0, config.vocab_size, (3, config.block_size), device="cuda") for _ in range(2))
        for _ in range(6)
    ]
    eager, _, eager_x, eager_y, eager_step, eager_out = setup(config, model_type=model_type)
    losses = []
    for xb, yb in batches:
        eager_x.copy_(xb)
        eager_y.copy_(yb)
        eager_step()
        losses.append(eager_out["loss"].item())

    model, _, x, y, step, outputs = setup(config, model_type=model_type)
    replayed = []
    graph = tensor.cuda.CUDAGraph()
    for i, (xb, yb) in enumerate(batches):
        x.copy_(xb)
        y.copy_(yb)
        if i < 2:  # warm-up, one op at a time
            step()
            replayed.append(outputs["loss"].item())
            continue
        if i == 2:
            before = [p.detach().cpu().numpy() for p in model.parameters()]
            with tensor.cuda.graph(graph):
                step()  # recorded, not run
            for p, values in zip(model.parameters(), before):
                np.testing.assert_array_equal(p.detach().cpu().numpy(), values)  # the capture changed nothing
            if where == "stand-in":  # the products of forward and backward: cuBLAS's GEMM, called by the library
                assert (
                    tensor.fast.cublas._loaded["library"].calls.count("cublasSgemmStridedBatched") >= 6 * config.n_layer
                )
        graph.replay()
        replayed.append(outputs["loss"].item())
    np.testing.assert_allclose(replayed, losses, rtol=1e-5)
    for (name, p), q in zip(model.named_parameters(), eager.parameters()):
        if name.endswith("key.bias"):
            # zero gradient in exact arithmetic (softmax ignores a shift shared by a row's scores): its float32
            # gradient is round-off that depends on the BLAS's order, and Adam turns round-off into steps of ~lr
            continue
        np.testing.assert_allclose(
            p.detach().cpu().numpy(), q.detach().cpu().numpy(), rtol=1e-4, atol=1e-6, err_msg=name
        )
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), rtol=1e-3, atol=1e-6, err_msg=name)


@ON_BOTH
def test_a_replay_that_meets_a_bad_index_raises_naming_it(request, where):
    on(where, request)
    _, _, x, _, step, _ = setup()
    step()
    graph = tensor.cuda.CUDAGraph()
    with tensor.cuda.graph(graph):
        step()  # no raise while recording: the check would read the device, so it is recorded instead
    graph.replay()  # every index in range: silent
    x._array[0, 0] = CONFIG.vocab_size + 2
    with pytest.raises(IndexError, match=f"embedding: index {CONFIG.vocab_size + 2} is out of range.*replay"):
        graph.replay()
    with pytest.raises(IndexError, match=f"index {CONFIG.vocab_size + 2} is out of range"):
        step()  # outside a capture the check reads at once, as ever


@needs_a_gpu
def test_arrays_made_after_the_capture_survive_its_replays():
    """The temporaries a replay writes live in the capture's own pool, never in memory handed out later."""
    *_, step, _ = setup(GPTConfig(vocab_size=13, block_size=16, n_embd=32, n_head=2, n_layer=2))
    step()
    graph = tensor.cuda.CUDAGraph()
    with tensor.cuda.graph(graph):
        step()
    kept = [tensor.full((n,), float(n), device="cuda") for n in (16, 64, 256, 1024, 4096, 16384) for _ in range(8)]
    for _ in range(3):
        graph.replay()
    tensor.cuda.synchronize()
    for array in kept:
        assert (array == float(array.shape[0])).all().item(), f"an array of {array.shape[0]} was overwritten"


@needs_a_gpu
def test_a_read_of_the_gpu_while_capturing_raises():
    with pytest.raises(Exception, match="(?i)captur"):  # CUDA: StreamCaptureUnsupported or ...Invalidated
        with tensor.cuda.graph(tensor.cuda.CUDAGraph()):
            tensor.ones(3, device="cuda").sum().item()
    assert not tensor.cuda.is_current_stream_capturing()
    assert tensor.ones(3, device="cuda").sum().item() == 3.0


# ----- reference mode -----------------------------------------------------------------------------------------


def test_in_reference_mode_a_cuda_graph_is_refused_naming_the_switch(fake_cuda):
    tensor.set_kernels("reference")  # fast_kernels puts the mode back after the test
    with pytest.raises(RuntimeError, match=r'engine-room device.*set_kernels\("fast"\)'):
        tensor.cuda.CUDAGraph()
    assert not tensor.cuda.is_current_stream_capturing()


def test_a_capture_needs_the_engine_rooms_capturable_devices(fake_cuda):
    """With the ladder's partial fast mode, a capture that would run the textbook's Adam (a step count on
    the host, recorded once) is refused before it starts."""
    tensor.set_kernels("fast", only=["CUDA graphs", "BLAS thread policy"])
    g = tensor.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="capturable products and optimizer steps"):
        g.capture_begin()
    assert_no_capture_left(fake_cuda)
