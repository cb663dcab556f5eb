"""The gaps public PyTorch programs hit (issue 10), each against PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conformance.oracle import OURS, TOLERANCE, TORCH, check, check_raises, random_array


def both(fn):
    return fn(TORCH), fn(OURS)


@given(start=st.integers(0, 20), length=st.integers(0, 8))
def test_zero_d_int_tensor_as_slice_bound_matches_pytorch(start, length):
    def run(ns):
        data = ns.torch.arange(30)
        i = ns.torch.tensor(start)
        return data[i : i + length].tolist(), data[i].item(), list(range(40))[i]

    expected, actual = both(run)
    assert actual == expected


def test_randint_drawn_offsets_slice_a_one_d_data_tensor_as_in_the_lecture():
    def batch(ns):
        data = ns.torch.arange(100) * 3
        ix = ns.torch.tensor([5, 50, 90])
        return ns.torch.stack([data[i : i + 8] for i in ix]).tolist()

    expected, actual = both(batch)
    assert actual == expected


@pytest.mark.parametrize("spec", ["", ".4f", ".2e", "8.3f", "g", ">10"])
@pytest.mark.parametrize("value", [3.14159265, -0.000123, 12345.678])
def test_format_of_a_zero_d_float_tensor_matches_pytorch(spec, value):
    expected, actual = both(lambda ns: format(ns.torch.tensor(value), spec))
    assert actual == expected


@pytest.mark.parametrize("spec", ["", "d", "5d"])
def test_format_of_a_zero_d_int_tensor_matches_pytorch(spec):
    expected, actual = both(lambda ns: format(ns.torch.tensor(42), spec))
    assert actual == expected


def test_format_spec_on_a_tensor_with_elements_raises_as_pytorch():
    check_raises(lambda ns, x: f"{x:.4f}", np.zeros(3))


def test_f_string_loss_logging_of_a_loss_requiring_grad_matches_pytorch():
    def log(ns):
        x = ns.torch.tensor(np.array([0.25, 1.5]), requires_grad=True)
        loss = (x * x).mean()
        return f"step 10: loss {loss:.4f}, {loss.item():.3f}"

    expected, actual = both(log)
    assert actual == expected


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
def test_from_numpy_shares_memory_and_keeps_the_dtype_as_pytorch(dtype):
    def run(ns):
        array = np.arange(6).reshape(2, 3).astype(dtype)
        t = ns.torch.from_numpy(array)
        array[0, 0] = 1
        t[1, 2] = 0
        return str(t.dtype).split(".")[-1], tuple(t.shape), t.tolist(), array.tolist()

    expected, actual = both(run)
    assert actual == expected


def test_from_numpy_of_an_unsupported_dtype_raises_as_pytorch():
    check_raises(lambda ns, x: ns.torch.from_numpy(np.array([None, 1], dtype=object)), np.zeros(1))


LEGACY = {
    "FloatTensor_list": lambda ns: ns.torch.FloatTensor([1, 2, 3]),
    "FloatTensor_sizes": lambda ns: ns.torch.FloatTensor(2, 3).shape,
    "DoubleTensor_list": lambda ns: ns.torch.DoubleTensor([[1.5, 2.0]]),
    "LongTensor_list": lambda ns: ns.torch.LongTensor([1, 2, 3]),
    "LongTensor_of_floats_truncates": lambda ns: ns.torch.LongTensor([1.7, -2.2]),
    "IntTensor_list": lambda ns: ns.torch.IntTensor([4, 5]),
    "BoolTensor_list": lambda ns: ns.torch.BoolTensor([True, False]),
    "FloatTensor_of_numpy": lambda ns: ns.torch.FloatTensor(np.array([1.0, 2.0])),
    "LongTensor_empty": lambda ns: ns.torch.LongTensor(),
}


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_constructor_matches_pytorch(name):
    check(lambda ns: LEGACY[name](ns), grad=False)


@pytest.mark.parametrize(
    "make",
    [lambda ns: ns.torch.FloatTensor(2.5), lambda ns: ns.torch.FloatTensor(ns.torch.tensor([1, 2]))],
    ids=["FloatTensor_of_a_float", "FloatTensor_of_a_long_tensor"],
)
def test_legacy_constructor_errors_match_pytorch(make):
    check_raises(lambda ns, _: make(ns), np.zeros(1))


CUDA_VALUES = ["is_available", "device_count", "memory_allocated", "max_memory_allocated", "empty_cache"]
CUDA_ERRORS = ["current_device", "get_device_name", "synchronize", "memory_usage"]


@pytest.mark.parametrize("name", CUDA_VALUES)
def test_cuda_query_without_a_gpu_returns_what_pytorch_returns(name):
    if TORCH.torch.cuda.is_available() or OURS.torch.cuda.is_available():
        pytest.skip("compares the answers without a GPU")
    expected, actual = both(lambda ns: getattr(ns.torch.cuda, name)())
    assert actual == expected and type(actual) is type(expected)


@pytest.mark.parametrize("name", CUDA_ERRORS)
def test_cuda_query_without_a_gpu_raises_as_pytorch(name):
    if TORCH.torch.cuda.is_available() or OURS.torch.cuda.is_available():
        pytest.skip("compares the answers without a GPU")
    check_raises(lambda ns, _: getattr(ns.torch.cuda, name)(), np.zeros(1))


def test_capturing_a_cuda_graph_without_a_gpu_raises_as_pytorch():
    """PyTorch's CPU build refuses at CUDAGraph(); ours makes the object and refuses to capture: both raise
    before anything is recorded, with a plain CUDAGraph / graph program."""
    if TORCH.torch.cuda.is_available() or OURS.torch.cuda.is_available():
        pytest.skip("compares the answers without a GPU")

    def capture(ns, _):
        with ns.torch.cuda.graph(ns.torch.cuda.CUDAGraph()):
            ns.torch.ones(2) * 2

    check_raises(capture, np.zeros(1))
    assert OURS.torch.cuda.is_current_stream_capturing() is False  # PyTorch's CPU build raises here


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_capturable_adam_is_off_by_default_and_refuses_a_cpu_parameter_as_pytorch(name):
    """capturable=True keeps the step count on the GPU: both refuse a parameter on the CPU at step()."""

    def step(ns, w):
        w = w.detach().clone().requires_grad_(True)
        optimizer = getattr(ns.optim, name)([w], lr=0.1, capturable=True)
        (w * w).sum().backward()
        optimizer.step()

    torch_error, our_error = check_raises(step, np.ones(3))
    assert "capturable=True" in str(torch_error) and "capturable=True" in str(our_error)
    expected, actual = both(lambda ns: getattr(ns.optim, name)([ns.torch.zeros(1, requires_grad=True)]))
    assert actual.param_groups[0]["capturable"] is expected.param_groups[0]["capturable"] is False


def test_cuda_functions_import_from_the_module_as_pytorch():
    from tensor.cuda import (  # noqa: F401
        CUDAGraph,
        current_device,
        device_count,
        empty_cache,
        get_device_name,
        graph,
        is_available,
        is_current_stream_capturing,
        max_memory_allocated,
        memory_allocated,
        memory_usage,
        synchronize,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
def test_dtypes_print_as_pytorch_with_the_module_name(dtype):
    def printed(ns):
        d = getattr(ns.torch, dtype)
        t = ns.torch.zeros(2, dtype=d)
        return str(d).split(".")[-1], repr(t.dtype).split(".")[0], f"{t.dtype}".split(".")[-1]

    (t_name, t_module, t_format), (o_name, o_module, o_format) = both(printed)
    assert (o_name, o_format) == (t_name, t_format) and t_module == "torch" and o_module == "tensor"


def test_repr_of_a_float64_tensor_names_the_dtype_as_pytorch():
    expected, actual = both(lambda ns: repr(ns.torch.tensor([1.0, 2.0], dtype=ns.torch.float64)))
    assert actual.replace("tensor.float64", "torch.float64") == expected


# ----- nn.utils: gradient clipping ------------------------------------------------------------------


def clipped(ns, grads, clip, **options):
    params = [ns.nn.Parameter(ns.torch.tensor(np.zeros_like(g))) for g in grads]
    for p, g in zip(params, grads):
        p.grad = ns.torch.tensor(g.copy())
    out = clip(ns)(params, **options)
    return out, [p.grad for p in params]


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(seed=st.integers(0, 2**32 - 1))
def test_clip_grad_norm_returns_the_total_norm_and_scales_as_pytorch(norm_type, max_norm, dtype, seed):
    rng = np.random.default_rng(seed)
    grads = [random_array(rng, (3, 4), dtype), random_array(rng, (4,), dtype)]
    check(
        lambda ns: clipped(ns, grads, lambda ns: ns.nn.utils.clip_grad_norm_, max_norm=max_norm, norm_type=norm_type),
        grad=False,
        tolerance=TOLERANCE[dtype],
    )


def test_clip_grad_norm_of_a_single_tensor_and_of_no_gradients_matches_pytorch():
    def run(ns):
        p = ns.nn.Parameter(ns.torch.tensor(np.zeros(3, dtype="float32")))
        none = ns.nn.utils.clip_grad_norm_([p], 1.0)
        p.grad = ns.torch.tensor(np.array([3.0, 4.0, 0.0], dtype="float32"))
        return none, ns.nn.utils.clip_grad_norm_(p, 1.0), p.grad

    check(run, grad=False)


def test_clip_grad_norm_of_an_infinite_gradient_matches_pytorch():
    check(
        lambda ns: clipped(ns, [np.array([np.inf, 1.0, 1.0])], lambda ns: ns.nn.utils.clip_grad_norm_, max_norm=1.0),
        grad=False,
    )


def test_clip_grad_norm_error_if_nonfinite_raises_as_pytorch():
    nonfinite = np.array([np.nan, 1.0])
    torch_error, our_error = check_raises(
        lambda ns, _: clipped(
            ns, [nonfinite], lambda ns: ns.nn.utils.clip_grad_norm_, max_norm=1.0, error_if_nonfinite=True
        ),
        np.zeros(1),
    )
    assert type(our_error) is type(torch_error) is RuntimeError and "non-finite" in str(our_error)


@pytest.mark.parametrize("clip_value", [0.1, 0.5, 10])
def test_clip_grad_value_clamps_in_place_and_returns_none_as_pytorch(clip_value):
    rng = np.random.default_rng(0)
    grads = [random_array(rng, (3, 4)), random_array(rng, (2,))]
    check(lambda ns: clipped(ns, grads, lambda ns: ns.nn.utils.clip_grad_value_, clip_value=clip_value), grad=False)


def test_clip_grad_norm_in_a_training_step_matches_pytorch():
    def step(ns):
        rng = np.random.default_rng(3)
        w = ns.torch.tensor(rng.standard_normal((4, 4)), requires_grad=True)
        x = ns.torch.tensor(rng.standard_normal((8, 4)))
        optimizer = ns.optim.SGD([w], lr=0.1)
        norms = []
        for _ in range(3):
            loss = ((x @ w).tanh() * 10).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            norms.append(float(ns.nn.utils.clip_grad_norm_([w], max_norm=0.5)))
            optimizer.step()
        return norms, w.detach().numpy()

    (t_norms, t_w), (o_norms, o_w) = both(step)
    np.testing.assert_allclose(o_norms, t_norms, rtol=1e-10)
    np.testing.assert_allclose(o_w, t_w, rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
def test_dtypes_pickle_and_copy_to_themselves_as_pytorch(dtype):
    import copy
    import pickle

    def same(ns):
        d = getattr(ns.torch, dtype)
        return pickle.loads(pickle.dumps(d)) is d, copy.deepcopy(d) is d, d == ns.torch.zeros(1, dtype=d).dtype

    assert same(OURS) == same(TORCH)


@pytest.mark.parametrize("spec", [("cpu",), ("cpu:0",), ("cuda",), ("cuda:0",), ("cuda", 0)])
def test_torch_device_reads_as_pytorchs(spec):
    """`torch.device(...)` as scripts write it: its type, index and repr, and a tensor's .device.type."""

    def read(ns):
        d = ns.torch.device(*spec)
        return d.type, d.index, repr(d), ns.torch.zeros(2).device.type, repr(ns.torch.zeros(2).device)

    expected, actual = both(read)
    assert actual == expected


def test_an_unknown_device_raises_as_pytorch():
    check_raises(lambda ns, _: ns.torch.device("gpu"), np.zeros(1))


def test_an_in_place_write_to_an_expanded_tensor_raises_as_pytorch():
    def write(ns, x):
        with ns.torch.no_grad():  # not the leaf-needs-grad error: the overlap itself
            x[:1].expand(4, 3).mul_(2.0)

    torch_error, our_error = check_raises(write, np.ones((2, 3)))
    assert "single memory location" in str(torch_error) and "single memory location" in str(our_error)


@pytest.mark.parametrize("n", [1, 2])
def test_set_num_threads_then_get_num_threads_as_pytorch(n):
    before = {ns.name: ns.torch.get_num_threads() for ns in (TORCH, OURS)}
    try:
        expected, actual = both(lambda ns: (ns.torch.set_num_threads(n), ns.torch.get_num_threads())[1])
    finally:
        for ns in (TORCH, OURS):
            ns.torch.set_num_threads(before[ns.name])
    assert actual == expected == n and type(actual) is type(expected)


def test_set_num_threads_of_zero_raises_as_pytorch():
    before = {ns.name: ns.torch.get_num_threads() for ns in (TORCH, OURS)}
    try:
        check_raises(lambda ns, _: ns.torch.set_num_threads(0), np.zeros(1))
    finally:
        for ns in (TORCH, OURS):
            ns.torch.set_num_threads(before[ns.name])


@pytest.mark.parametrize(
    "values",
    [
        6.092,
        [6.092],
        [1.0, 2.0],
        [0.1234567, 2.5],
        [1e-5, 3.0],
        [1234567.0, 2.0],
        [[0.5, 1.25], [3.0, 4.0]],
        [float("nan"), 1.5],
    ],
)
def test_repr_of_a_float_tensor_prints_as_pytorchs(values):
    """Four decimals where a value is not whole (the losses a learner prints: tensor(6.0920)), `1.` where all are."""
    expected, actual = both(lambda ns: repr(ns.torch.tensor(values)))
    assert actual == expected
