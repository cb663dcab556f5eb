"""The programs benchmark's harness (benchmarks/programs.py) on tiny fake programs written here, not on real
checkouts: the import rewriting, the shortening patch, the prepared run folders, the interleaved runs in their
own processes, and the tables. No test needs PyTorch: the programs that run are written without it, or run
only on our side."""

import json
import textwrap

import pytest

from benchmarks import programs
from benchmarks.program_specs import PROGRAMS, Program

SETTINGS = {"steps": 3, "eval_interval": 2, "eval_iters": 1, "sample_tokens": 5}

LEARNER_SOURCE = textwrap.dedent(
    """\
    import math
    import torch
    import torch.nn as nn
    from torch.nn import functional as F
    from torch.utils.data import Dataset
    from torch.utils.data.dataloader import DataLoader
    import torch.nn.functional as G

    def init(module):
        torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)  # torch.nn in an attribute path
    """
)


def test_rewrite_imports_maps_torch_to_ours_and_leaves_the_rest():
    rewritten = programs.rewrite_imports(LEARNER_SOURCE).splitlines()
    assert rewritten[:7] == [
        "import math",
        "import tensor as torch",
        "import nn",
        "import nn.functional as F",
        "from tensor.utils.data import Dataset",
        "from tensor.utils.data.dataloader import DataLoader",
        "import nn.functional as G",
    ]
    assert rewritten[9] == "    nn.init.normal_(module.weight, mean=0.0, std=0.02)  # nn in an attribute path"
    assert "import nn" not in rewritten[8:], "nn is bound already: no second import"


def test_rewrite_imports_binds_nn_for_an_attribute_path_in_a_file_that_never_imports_it():
    source = (
        "import math\n\nimport torch\n\ndef clip(model):\n    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
    )
    assert programs.rewrite_imports(source).splitlines()[:5] == [
        "import math",
        "",
        "import tensor as torch",
        "import nn",
        "",
    ]
    assert "    nn.utils.clip_grad_norm_(model.parameters(), 1.0)" in programs.rewrite_imports(source)


def test_rewrite_imports_maps_from_torch_import_nn_and_nested_imports():
    source = "if True:\n    from torch import nn\n    from torch.nn.utils import clip_grad_norm_\n"
    assert programs.rewrite_imports(source) == "if True:\n    import nn\n    from nn.utils import clip_grad_norm_\n"


def test_an_import_the_rules_cannot_map_is_an_error_not_a_silent_pytorch_run():
    with pytest.raises(ValueError, match="import torch, numpy"):
        programs.rewrite_imports("import torch, numpy\n")


def test_apply_patches_substitutes_the_settings_and_wants_each_text_exactly_once():
    source = "max_iters = 5000\neval_interval = 500\n"
    patched = programs.apply_patches(
        source, [("max_iters = 5000", "max_iters = $steps"), ("= 500\n", "= $eval_interval\n")], SETTINGS, "f.py"
    )
    assert patched == "max_iters = 3\neval_interval = 2\n"
    with pytest.raises(ValueError, match=r"f\.py.*'n_layer = 6' once, found it 0 times"):
        programs.apply_patches(source, [("n_layer = 6", "n_layer = 4")], SETTINGS, "f.py")
    with pytest.raises(ValueError, match="found it 2 times"):
        programs.apply_patches(source, [("= 5", "= 1")], SETTINGS, "f.py")


def fake_checkout(tmp_path, body):
    checkout = tmp_path / "checkout"
    (checkout / "pkg").mkdir(parents=True)
    (checkout / "train.py").write_text(body)
    (checkout / "pkg" / "__init__.py").write_text("")
    (checkout / "pkg" / "helper.py").write_text("import torch\nSCALE = 2\n")
    data = tmp_path / "text.txt"
    data.write_text("hello world\n")
    return checkout, data


# The fake program: no PyTorch needed, its "loss" tells which shortening it ran with and which files it found.
TRAIN = textwrap.dedent(
    """\
    import sys
    max_iters = 5000
    text = open("input.txt").read()
    for step in range(max_iters):
        pass
    print(f"step {max_iters}: loss {max_iters + len(text) / 100:.3f}")
    """
)
FAKE = Program(
    name="fake | program",
    files={"train.py": "train.py", "pkg/__init__.py": "pkg/__init__.py", "pkg/helper.py": "pkg/helper.py"},
    entry="train.py",
    patches={"train.py": [("max_iters = 5000", "max_iters = $steps")]},
    written={"settings.txt": "steps=$steps\n"},
    args=("--steps", "$steps"),
)


def test_prepare_patches_both_alike_and_rewrites_only_ours(tmp_path):
    checkout, data = fake_checkout(tmp_path, TRAIN)
    args = {f: programs.prepare(FAKE, checkout, f, SETTINGS, data, tmp_path / f) for f in ("torch", "ours")}
    assert args["torch"] == args["ours"] == ["--steps", "3"]
    for framework in ("torch", "ours"):
        folder = tmp_path / framework
        assert "max_iters = 3\n" in (folder / "train.py").read_text()
        assert (folder / "input.txt").read_text() == "hello world\n"
        assert (folder / "settings.txt").read_text() == "steps=3\n"
    assert (tmp_path / "torch" / "pkg" / "helper.py").read_text() == "import torch\nSCALE = 2\n"
    assert (tmp_path / "ours" / "pkg" / "helper.py").read_text() == "import tensor as torch\nSCALE = 2\n"


def test_prepare_names_a_missing_file_and_a_missing_data_file(tmp_path):
    checkout, data = fake_checkout(tmp_path, TRAIN)
    (checkout / "pkg" / "helper.py").unlink()
    with pytest.raises(FileNotFoundError, match="helper.py not found"):
        programs.prepare(FAKE, checkout, "ours", SETTINGS, data, tmp_path / "ours")
    (checkout / "pkg" / "helper.py").write_text("")
    with pytest.raises(ValueError, match="--data"):
        programs.prepare(FAKE, checkout, "ours", SETTINGS, None, tmp_path / "ours")


def test_a_rewritten_program_runs_on_our_library_in_its_own_process(tmp_path):
    body = "import torch\nimport torch.nn as nn\nx = nn.Linear(3, 2)(torch.ones(4, 3))\nprint(f'loss {x.shape[0]}.5')\n"
    checkout, data = fake_checkout(tmp_path, body)
    program = Program(name="uses torch", files={"train.py": "train.py"}, entry="train.py", data_as=None)
    args = programs.prepare(program, checkout, "ours", SETTINGS, data, tmp_path / "ours")
    seconds, cpu, stdout = programs.run_once(tmp_path / "ours", "train.py", args, "ours", timeout=120)
    assert seconds > 0 and cpu >= 0
    assert programs.final_loss(stdout, program.loss_pattern) == 4.5


def test_measure_alternates_the_frameworks_and_builds_the_table(tmp_path):
    checkout, data = fake_checkout(tmp_path, TRAIN)
    broken = Program(name="broken", files={"train.py": "train.py"}, entry="train.py", patches={}, data_as=None)
    lines = []
    results = programs.measure(
        {"fake": FAKE, "broken": broken},
        {"fake": checkout, "broken": checkout},
        SETTINGS,
        data,
        rounds=2,
        workdir=tmp_path / "runs",
        pause=0,
        log=lines.append,
    )
    assert [line.split(":")[1].split()[:2] for line in lines] == [
        ["fake", "torch"],
        ["fake", "ours"],
        ["fake", "ours"],  # the second round starts with ours: a drift of the machine hits both alike
        ["fake", "torch"],
    ]
    assert results["broken"]["error"] == "torch: FileNotFoundError: [Errno 2] No such file or directory: 'input.txt'"
    fake = results["fake"]
    assert fake["error"] is None and all(len(fake["seconds"][f]) == 2 for f in ("torch", "ours"))
    assert fake["loss"] == {"torch": 3.12, "ours": 3.12}  # 3 steps (the patch) + 12 characters of data / 100
    rows = programs.ratio_rows(results)
    assert rows[0]["rounds"] == 2 and rows[1]["rounds"] == 0
    table = programs.markdown_table(rows).splitlines()
    assert len(table) == 4 and table[2].startswith("| fake / program | 2 |")
    assert table[3].startswith("| broken | 0 | - | - | - |") and "skipped: torch: FileNotFoundError" in table[3]


def test_ratio_rows_take_medians_of_each_framework_and_of_the_per_round_ratios():
    results = {
        "a": {
            "name": "A",
            "seconds": {"torch": [10.0, 12.0, 20.0], "ours": [15.0, 12.0, 30.0]},
            "loss": {"torch": 2.0, "ours": 2.1},
            "error": None,
        }
    }
    (row,) = programs.ratio_rows(results)
    assert row["torch_s"] == 12.0 and row["ours_s"] == 15.0
    assert row["ratio"] == 1.5 and row["spread"] == (1.0, 1.5)
    assert "| A | 3 | 12.0 | 15.0 | 1.50 | 1.00-1.50 | 2.000 / 2.100 |  |" in programs.markdown_table([row])


def test_profile_table_ranks_ops_by_share_and_counts_the_time_outside_them():
    profiles = {
        "ours": {"total": 10.0, "ops": {"Linear": 4.0, "GELU": 1.0, "Softmax": 2.0}},
        "torch": {"total": 5.0, "ops": {"aten::addmm": 2.5, "aten::gelu": 0.5}},
    }
    names, shares = zip(*programs.top_ops(profiles["ours"], 2))
    assert names == ("Linear", "Softmax", programs.OUTSIDE) and shares == pytest.approx((0.4, 0.2, 0.3))
    table = programs.profile_table("fake", profiles, count=2).splitlines()
    assert table[0] == "### fake: top ops (ours 10.0 s, PyTorch 5.0 s)"
    assert table[4] == "| 1 | Linear | 40.0% | aten::addmm | 50.0% |"
    assert table[5] == "| 2 | Softmax | 20.0% | aten::gelu | 10.0% |"
    assert table[6] == f"| 3 | {programs.OUTSIDE} | 30.0% | {programs.OUTSIDE} | 40.0% |"


def test_the_command_line_runs_named_checkouts_and_writes_the_table(tmp_path, monkeypatch, capsys):
    checkout, data = fake_checkout(tmp_path, TRAIN)
    monkeypatch.setattr(programs, "PROGRAMS", {"fake": FAKE})
    out = tmp_path / "out"
    argv = ["--fake", str(checkout), "--data", str(data), "--steps", "3", "--rounds", "1", "--out", str(out)]
    results = programs.main(argv)
    assert results["fake"]["loss"]["ours"] == 3.12
    assert "| fake / program | 1 |" in capsys.readouterr().out
    assert "| fake / program | 1 |" in (out / "programs.md").read_text()
    assert json.loads((out / "programs.json").read_text())["settings"]["steps"] == 3
    with pytest.raises(SystemExit, match="name at least one checkout"):
        programs.main([])


def test_every_real_program_names_its_entry_among_its_files_or_written_ones():
    for program in PROGRAMS.values():
        assert program.entry in set(program.files.values()) | set(program.written)
        for target in program.patches:
            assert target in set(program.files.values()) | set(program.written)
