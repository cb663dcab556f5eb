"""`python -m benchmarks reading-path` counts the library lines one training step runs, per kernels mode;
in reference mode none of them lies under fast/ (the textbook is all a learner has to read)."""

import functools

from benchmarks.reading_path import TINY, lines_of_one_step, main, under_fast

MICRO = {"batch": 2, "block": 8, "n_embd": 16, "n_head": 2, "n_layer": 1, "vocab": 11}


@functools.cache
def lines(mode, config=None):
    return lines_of_one_step(mode, MICRO if config is None else dict(config))


def test_reference_mode_runs_no_line_of_nns_engine_room_and_fast_mode_does():
    assert "nn/functional.py" in lines("reference") and "tensor/autograd.py" in lines("reference")
    assert [f for f in lines("reference") if f.startswith("nn/fast/")] == []
    assert {"nn/fast/blocked.py", "nn/fast/linear.py", "nn/fast/rows.py"} <= set(lines("fast"))


def test_reference_mode_runs_no_line_under_fast():
    assert [f for f in lines("reference") if under_fast(f)] == []


def test_the_program_prints_a_table_with_totals(capsys):
    counts = main(["--config", '{"batch": 2, "block": 8, "n_embd": 16, "n_head": 2, "n_layer": 1, "vocab": 11}'])
    out = capsys.readouterr().out
    totals = [sum(len(lines) for lines in counts[mode].values()) for mode in ("reference", "fast")]
    assert f"| **total** | **{totals[0]}** | **{totals[1]}** |" in out and "| of which under fast/ |" in out


def test_the_reference_reading_path_at_the_default_config_is_at_most_400_lines_and_none_under_fast():
    """Issue 28's target for the textbook: a line count, so deterministic (not a timing)."""
    counts = lines("reference", tuple(TINY.items()))
    assert sum(len(numbers) for f, numbers in counts.items() if under_fast(f)) == 0
    assert sum(len(numbers) for numbers in counts.values()) <= 400
