"""`python -m benchmarks ladder`: reference mode, then one more engine-room device a rung, then fast mode,
each rung a worker process in its own kernels mode. Only the program's shape is checked: timings belong
to benchmarks/, not to unit tests."""

from benchmarks import ladder

MICRO = {"batch": 2, "block": 8, "n_embd": 16, "n_head": 2, "n_layer": 1, "vocab": 11}


def test_the_rungs_add_one_device_at_a_time_in_registration_order():
    assert ladder.rungs(["a", "b", "c"]) == [
        ("reference", ("reference", None)),
        ("+ a", ("fast", ["a"])),
        ("+ b", ("fast", ["a", "b"])),
        ("+ c = fast", ("fast", None)),
    ]


def test_every_registered_device_gets_a_rung_and_the_table_compares_each_with_reference():
    devices = ladder.engine_room_devices()
    assert {"row blocks", "batched Linear gradients", "flat embedding gradient"} <= set(devices)
    results = ladder.measure(MICRO, rounds=1, steps=1, warmup=1)
    assert [label for label, _ in results] == [label for label, _ in ladder.rungs(devices)]
    assert all(seconds > 0 for _, seconds in results)
    lines = ladder.table(results).splitlines()
    assert len(lines) == 2 + len(results) and "| reference |" in lines[2] and "| 1.00x |" in lines[2]
