"""The seed-to-seed spread check: how printed values pair across runs, and the verdicts on them.

No program runs here; the lines are made up in the programs' own formats."""

import argparse

from tests.programs.run_learner_programs import (
    default_seed,
    earlier_run,
    loss_lines,
    prepare,
    reseed_notebook,
    run_name,
)
from tests.programs.seed_spread import (
    cmp_failures,
    compare,
    printed_unit,
    program_verdict,
    report,
    template,
    values,
    verdict,
)


def test_a_line_pairs_by_its_text_with_numbers_and_timings_blanked():
    assert template("step 260 | loss 3.2017 | step time 11.60ms") == "step # | loss # | step time #ms"
    assert template("iter_dt 0.00ms; iter 0: train loss 2.31454") == "iter_dt #ms; iter #: train loss #"
    assert template("     0/    300: 3.3239") == "#/ #: #"
    ours, theirs = "tensor(6.092, grad_fn=CrossEntropy)", "tensor(6.1315, grad_fn=<NllLossBackward0>)"
    assert template(ours) == template(theirs) == "tensor(#)"


def test_values_are_the_floats_without_timings_counters_or_a_checks_maxdiff():
    assert values("step 260 | loss 3.2017 | step time 11.60ms") == [3.2017]
    assert values("step 500 train loss: 2.2714 test loss: 2.2853") == [2.2714, 2.2853]
    assert values("test final score: 76/500 = 15.20% correct") == [15.20]
    assert values("log_likelihood=tensor(-559951.5625)") == [-559951.5625]
    assert values("hprebn          | exact: False | approximate: True  | maxdiff: 9.3e-10") == []


def test_the_printed_unit_is_one_in_the_last_digit():
    assert printed_unit("3.2017") == 1e-4
    assert printed_unit("15.20") == 1e-2
    assert abs(printed_unit("1.5e-09") - 1e-10) < 1e-25
    assert printed_unit("2") == 1.0


def test_verdicts_against_a_spread():
    seeds = [2.30, 2.34, 2.32]
    assert verdict(2.31, seeds, 1e-4) == "inside"
    assert verdict(2.34005, seeds, 1e-4) == "inside"  # the end, widened by the tolerance
    assert verdict(2.37, seeds, 1e-4) == "near"  # 0.03 past the top: less than the spread 0.04
    assert verdict(2.26, seeds, 1e-4) == "near"
    assert verdict(2.39, seeds, 1e-4) == "OUTSIDE"  # 0.05 past: more than PyTorch differs from itself
    assert verdict(2.25, seeds, 1e-4) == "OUTSIDE"


def test_a_deterministic_value_must_match_to_round_off():
    seeds = [2.4543561935424805] * 3
    assert verdict(2.4543561935424805, seeds, 1e-5 * 2.45) == "match"
    assert verdict(2.45436, seeds, 1e-5 * 2.45) == "match"
    assert verdict(2.4545, seeds, 1e-5 * 2.45) == "MISMATCH"


def test_compare_pairs_the_nth_line_of_a_kind_and_names_lines_no_seed_printed():
    ours = ["step 0 | loss 3.30 | step time 5ms", "step 10 | loss 2.90 | step time 4ms", "only here 1.5"]
    seeds = [
        ["step 0 | loss 3.31 | step time 9ms", "best so far 2.0", "step 10 | loss 2.80 | step time 9ms"],
        ["step 0 | loss 3.29 | step time 8ms", "step 10 | loss 2.85 | step time 7ms"],
    ]
    rows, unpaired = compare(ours, seeds)
    assert [(r["ours"], r["low"], r["high"], r["verdict"]) for r in rows] == [
        (3.30, 3.29, 3.31, "inside"),
        (2.90, 2.80, 2.85, "near"),
    ]
    assert unpaired == ["only here 1.5"]


def test_a_value_of_one_seed_missing_leaves_the_line_unpaired():
    rows, unpaired = compare(["val 2.5"], [["val 2.4"], ["train 2.4"]])
    assert rows == [] and unpaired == ["val 2.5"]


def row(value, verdict_):
    return {"line": f"loss {value}", "index": 0, "ours": value, "low": 0.0, "high": 1.0, "verdict": verdict_}


def test_the_program_verdict_asks_for_the_end_the_checks_the_deterministic_values_and_the_final_value():
    honest = [row(1, "match"), row(2, "OUTSIDE"), row(3, "near")]  # one stochastic value out: chance
    assert program_verdict(honest, [], True)[0] == "PASS"
    assert program_verdict(honest, [], False)[1] == ["did not reach its end"]
    assert program_verdict(honest[:2], [], True)[1] == ["final value outside the spread"]
    assert program_verdict([row(1, "MISMATCH"), row(3, "inside")], [], True)[1] == ["1 deterministic values differ"]
    failed = cmp_failures(
        ["dW | exact: False | approximate: False | maxdiff: 0.1", "db | exact: True  | approximate: True"]
    )
    assert failed == ["dW | exact: False | approximate: False | maxdiff: 0.1"]
    assert program_verdict(honest, failed, True)[1] == ["1 gradient checks not approximate"]
    assert program_verdict([], [], True)[1] == ["no paired values"]


def test_the_notebooks_scalars_and_split_losses_are_loss_lines_and_counts_and_tensors_are_not():
    output = "train 2.6023\nval 2.5953\n32033\ntensor(6.1315, grad_fn=<NllLossBackward0>)\n2.4543\n"
    output += "nll=tensor(559951.5625)\ntensor([0.6064, 0.3033])\ntorch.Size([3])\n"
    output += "tensor(6.09, grad_fn=CrossEntropy)\n"
    assert loss_lines(output) == [
        "train 2.6023",
        "val 2.5953",
        "tensor(6.1315, grad_fn=<NllLossBackward0>)",
        "2.4543",
        "nll=tensor(559951.5625)",
        "tensor(6.09, grad_fn=CrossEntropy)",
    ]


def test_a_notebooks_seeds_move_by_the_offset_and_stay_with_none():
    script = "g = torch.Generator().manual_seed(2147483647)\ntorch.manual_seed(42);\nrandom.seed(42)"
    assert reseed_notebook(script, 2).splitlines() == [
        "g = torch.Generator().manual_seed(2147483649)",
        "torch.manual_seed(44);",
        "random.seed(42)",  # Python's own generator is the same on both sides: not PyTorch's seed
    ]
    assert reseed_notebook(script, 0) == script
    assert run_name("torch", 0) == "torch" and run_name("torch", 2) == "torch-seed+2"


def fake_args(tmp_path):
    (tmp_path / "makemore").mkdir()
    (tmp_path / "makemore" / "makemore.py").write_text(
        "import torch\nparser.add_argument('--seed', type=int, default=3407, help=\"seed\")\n"
    )
    (tmp_path / "makemore" / "names.txt").write_text("emma\n")
    for relative in ("mingpt/__init__.py", "mingpt/model.py", "mingpt/trainer.py", "mingpt/utils.py"):
        (tmp_path / "minGPT" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "minGPT" / relative).write_text("import torch\n")
    (tmp_path / "minGPT" / "projects" / "adder").mkdir(parents=True)
    (tmp_path / "minGPT" / "projects" / "adder" / "adder.py").write_text("    C.system.seed = 3407\n")
    return argparse.Namespace(
        makemore=tmp_path / "makemore", mingpt=tmp_path / "minGPT", makemore_steps=501, adder_iters=501
    )


def test_makemore_and_mingpt_take_the_offset_seed_as_their_own_options(tmp_path):
    args = fake_args(tmp_path)
    (train, sample), _, _ = prepare("makemore-mlp", "torch", args, tmp_path / "m", seed=2)
    for command in (train, sample):  # training and the --sample-only run alike
        assert command[command.index("--seed") + 1] == "3409"
    (own_train, _), _, _ = prepare("makemore-mlp", "torch", args, tmp_path / "m0", seed=0)
    assert "--seed" not in own_train
    (command,), _, _ = prepare("adder", "torch", args, tmp_path / "a", seed=1)
    assert command[-1] == "--system.seed=3408"
    assert default_seed("C.system.seed = 12", r"C\.system\.seed = (\d+)") == 12


def test_an_earlier_run_is_read_back_with_its_status(tmp_path):
    assert earlier_run(tmp_path / "never")[0] is None
    (tmp_path / "output.txt").write_text("loss 2.5\n")
    (tmp_path / "status.json").write_text('{"status": "timeout", "seconds": 12.0}')
    assert earlier_run(tmp_path) == ("timeout", "loss 2.5\n", 12.0)


def test_our_other_seeds_are_shown_beside_and_do_not_change_the_verdict(capsys):
    ours = ["step 0 | loss 3.300 | step time 5ms", "test loss 2.400"]
    torch = [
        ["step 0 | loss 3.310 | step time 9ms", "test loss 2.300"],
        ["step 0 | loss 3.290 | step time 8ms", "test loss 2.310"],
    ]
    more = [["step 0 | loss 3.350 | step time 6ms", "test loss 2.290"]]
    summary = report(ours, torch, [True, True, True], more_ours=more)
    assert summary["final_own"] == "2.29..2.4"
    assert summary["final_verdict"] == "OUTSIDE" and summary["verdict"].startswith("FAIL")
    assert "3.3..3.35" in capsys.readouterr().out
