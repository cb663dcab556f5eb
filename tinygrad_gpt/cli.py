"""The `tinygrad-gpt` command line (also `python -m tinygrad_gpt`).

Everything that can be checked is checked before any work starts: each number against
its range at parse time (exit status 2), then the optional packages a command needs,
the data file, the --out folder and a checkpoint already in it, and the memory a
training step will take. A run is never lost: an existing checkpoint is never replaced
without --overwrite, Ctrl-C saves the last finished step, and a failed save says where
the previous checkpoint is.
"""

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
import time

import tensor

from .data import builtin_corpus, load_text
from .export import existing_export_files, export_checkpoint
from .generate import generate_text, sample
from .gpt import GPTConfig
from .options import Range, add_options, fill_defaults, given
from .train import (
    CHECKPOINT_NAME,
    RESUMABLE,
    CheckpointWriteError,
    TrainConfig,
    available_memory,
    estimate_step_memory,
    read_checkpoint,
    remove_leftover_temporaries,
    train,
)

# GPTConfig's fields that are options (their defaults are GPTConfig's own).
MODEL_OPTIONS = {
    "block_size": ("context length in tokens", Range(int, 1)),
    "n_embd": ("embedding width C", Range(int, 1)),
    "n_head": ("attention heads per layer; must divide --n-embd", Range(int, 1)),
    "n_layer": ("transformer blocks", Range(int, 1)),
    "dropout": ("dropout probability", Range(float, 0, 1, high_open=True)),
}
SEED = Range(int, 0, 2**32 - 1)
EXIT_INTERRUPTED = 130  # the shell's status for a program stopped by Ctrl-C


def _device(name):
    device = tensor.backend.normalize_device(name)
    if device == "cuda" and not tensor.cuda.is_available():
        try:
            tensor.backend.array_module("cuda")
        except RuntimeError as error:
            raise SystemExit(f"error: --device cuda is not usable here: {error}") from None
    return device


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tinygrad-gpt",
        description="Train a GPT written from scratch on NumPy, sample text from it, export it for PyTorch.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    t = commands.add_parser(
        "train",
        help="train a GPT on a text file (default: the built-in Python documentation corpus)",
        description="Train a GPT, show progress, save checkpoints, and print a sample at the end. "
        "An --out folder that already holds a checkpoint is never replaced silently: continue it "
        "with --resume, or start again there with --overwrite.",
    )
    t.add_argument("--data", help="a UTF-8 text file to train on (default: the built-in corpus, no download)")
    model_flags = add_options(t, GPTConfig, MODEL_OPTIONS)
    train_flags = add_options(t, TrainConfig)
    again = t.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue the checkpoint in --out up to --steps; --lr, --steps, --batch-size and the "
        "evaluation options may change, the model's shape and the tokenizer may not",
    )
    again.add_argument(
        "--overwrite", action="store_true", help="start a new run in an --out that holds a checkpoint, replacing it"
    )
    t.add_argument(
        "--sample-tokens",
        type=Range(int, 0).parse,
        default=300,
        metavar="INT",
        help="tokens to generate at the end (default: 300; an integer >= 0)",
    )
    t.add_argument(
        "--plot",
        action="store_true",
        help='save loss_curve.png and attention.png in --out (needs matplotlib: pip install -e ".[plot]")',
    )
    t.add_argument(
        "--kernels",
        choices=tensor.kernels.MODES,
        default=None,
        help="reference: the textbook ops only (nothing under fast/ runs); fast: with the engine room's stand-ins "
        "(default: $TINYGRAD_GPT_KERNELS, else fast)",
    )
    t.add_argument(
        "--compile",
        action="store_true",
        help="record the training step once and replay its array work after (tensor.compile; same losses)",
    )
    t.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar: a plain line per evaluation (what you get anyway when stderr is not a terminal)",
    )
    t.set_defaults(model_flags=model_flags, train_flags=train_flags, error=t.error)

    g = commands.add_parser(
        "generate", help="sample text from a checkpoint", description="Sample text from a trained checkpoint."
    )
    g.add_argument(
        "--checkpoint",
        default="runs/default/checkpoint.npz",
        help="checkpoint file (default: runs/default/checkpoint.npz)",
    )
    g.add_argument(
        "--prompt",
        default="\n",
        help="text to continue (with a char tokenizer, every character must be in its vocabulary)",
    )
    g.add_argument(
        "--tokens", type=Range(int, 0).parse, default=500, help="tokens to generate (default: 500; an integer >= 0)"
    )
    g.add_argument(
        "--temperature",
        type=Range(float, 0, low_open=True).parse,
        default=1.0,
        help="<1 sharper, >1 more random (default: 1.0; a finite number > 0)",
    )
    g.add_argument(
        "--top-k",
        type=Range(int, 1).parse,
        default=None,
        help="sample only among the k most likely tokens (default: all; an integer >= 1)",
    )
    g.add_argument(
        "--seed", type=SEED.parse, default=None, help=f"random seed, for reproducible samples ({SEED.describe()})"
    )
    g.add_argument("--device", default="cpu", help='"cpu" or "cuda" (default: cpu)')

    e = commands.add_parser(
        "export",
        help="write a checkpoint's model as model.safetensors + config.json, for PyTorch",
        description="Write the trained model's weights (model.safetensors) and its GPTConfig and tokenizer "
        "(config.json) into --out; see the README's 'Take your model to PyTorch'.",
    )
    e.add_argument(
        "--checkpoint",
        default="runs/default/checkpoint.npz",
        help="checkpoint file (default: runs/default/checkpoint.npz)",
    )
    e.add_argument("--out", required=True, help="folder to write model.safetensors and config.json into")
    e.add_argument("--overwrite", action="store_true", help="replace an export already in --out")
    commands.add_parser(
        "bench",
        help="run the benchmarks from a checkout of the repository (the same as python -m benchmarks; "
        "see tinygrad-gpt bench --help)",
        add_help=False,
    )
    return parser


def _require(module, option, extra):
    """Import an optional package now, before any work, or stop with the line that installs it."""
    try:
        __import__(module)
    except ImportError:
        raise SystemExit(
            f'error: {option} needs {module}, which is not installed: pip install -e ".[{extra}]" '
            f"(or pip install {module})"
        ) from None


def _check_writable_folder(out):
    """--out must be a folder this process can write into (created if missing)."""
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise SystemExit(f"error: --out {out} is not a writable folder ({error.strerror or error})") from None


def _checkpoint_step(path):
    try:
        return f"step {read_checkpoint(path)[0]['step']}"
    except (ValueError, OSError) as error:
        return f"a file that is not a readable checkpoint ({error})"


def _resume_config(args, path, text, model_given, train_given):
    """The checkpoint's model config and the TrainConfig of the resumed run, or a SystemExit naming the conflict."""
    checkpoint, model_config, tokenizer = read_checkpoint(path)
    step = checkpoint["step"]
    saved = checkpoint.get("train_config", {})
    fixed = {
        "seed": saved.get("seed"),
        "tokenizer": checkpoint["tokenizer"].get("kind", "char"),  # older checkpoints: char
        "bpe_vocab_size": saved.get("bpe_vocab_size", TrainConfig.bpe_vocab_size),
    }
    kept = {name: getattr(model_config, name) for name in args.model_flags} | fixed
    asked = model_given | {name: value for name, value in train_given.items() if name in fixed}
    for name, value in asked.items():
        if value != kept[name]:
            flag, was = {**args.model_flags, **args.train_flags}[name], kept[name]
            raise SystemExit(
                f"error: {flag} {value} cannot change on --resume: the checkpoint in {args.out_dir} has {name} = {was} "
                f"(leave {flag} out, or start a new run with a new --out)"
            )
    unknown = sorted(set(text) - set(tokenizer.chars)) if fixed["tokenizer"] == "char" else []  # BPE knows all
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10])
        raise SystemExit(
            f"error: the text has {len(unknown)} character(s) that the checkpoint's tokenizer does not know ({shown}): "
            f"a resumed run keeps its tokenizer; train on this text with a new --out"
        )
    base = {k: v for k, v in saved.items() if k in RESUMABLE}
    config = TrainConfig(**{**base, **train_given, **fixed, "out_dir": args.out_dir, "device": _device(args.device)})
    config.data_path = args.data and os.path.abspath(args.data)
    if config.steps <= step:
        raise SystemExit(f"error: the checkpoint in {args.out_dir} is already at step {step}: ask for --steps > {step}")
    changes = [f"{n} {base[n]} -> {v}" for n, v in train_given.items() if n in base and base[n] != v]
    print(f"resuming {path} at step {step} of {config.steps}" + (f"; changed: {', '.join(changes)}" if changes else ""))
    return model_config, config


def _check_memory(model_config, train_config):
    needed, available = estimate_step_memory(model_config, train_config.batch_size), available_memory()
    if train_config.device == "cpu" and available is not None and needed > available:
        raise SystemExit(
            f"error: a training step with --batch-size {train_config.batch_size}, --block-size "
            f"{model_config.block_size}, --n-embd {model_config.n_embd}, --n-layer {model_config.n_layer} needs about "
            f"{needed / 2**30:,.1f} GiB, more than the {available / 2**30:,.1f} GiB this machine has available: "
            "lower --batch-size or --block-size"
        )


def run_train(args):
    model_given, train_given = given(args, args.model_flags), given(args, args.train_flags)
    fill_defaults(args, GPTConfig, args.model_flags)
    fill_defaults(args, TrainConfig, args.train_flags)
    if not args.resume and args.n_embd % args.n_head:
        args.error(f"argument --n-head: must divide --n-embd {args.n_embd}, got {args.n_head}")
    if not args.resume and args.lr_schedule == "cosine" and args.min_lr > args.learning_rate:
        args.error(f"argument --min-lr: must be at most --lr {args.learning_rate:g}, got {args.min_lr:g}")
    if not args.resume and args.tokenizer == "char" and "bpe_vocab_size" in train_given:
        args.error(
            "argument --vocab-size: applies to --tokenizer bpe only (a char vocabulary is the text's characters)"
        )
    if args.plot:
        _require("matplotlib", "--plot", "plot")
    if os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
        raise SystemExit(f"error: --out {args.out_dir} is a file, not a folder")
    path = os.path.join(args.out_dir, CHECKPOINT_NAME)
    if args.resume and args.data is None and os.path.exists(path):  # the text the run was trained on
        args.data = read_checkpoint(path)[0].get("train_config", {}).get("data_path")
    text = load_text(args.data) if args.data else builtin_corpus()
    source = args.data or "the built-in corpus (Python's pydoc topics)"
    if args.resume:
        if not os.path.exists(path):
            raise SystemExit(f"error: --resume: there is no checkpoint in {args.out_dir} to continue")
        model_config, train_config = _resume_config(args, path, text, model_given, train_given)
    else:
        if os.path.exists(path) and not args.overwrite:
            raise SystemExit(
                f"error: {args.out_dir} already holds a checkpoint ({_checkpoint_step(path)}); continue it with "
                "--resume, train into a new --out, or start again there with --overwrite (which replaces it)"
            )
        vocab_size = len(set(text)) if args.tokenizer == "char" else args.bpe_vocab_size  # BPE: at most that
        model_config = GPTConfig(**{name: getattr(args, name) for name in args.model_flags}, vocab_size=vocab_size)
        train_config = TrainConfig(
            **{name: getattr(args, name) for name in args.train_flags},
            data_path=args.data and os.path.abspath(args.data),
        )
        train_config.device = _device(train_config.device)
    _check_memory(model_config, train_config)
    _check_writable_folder(args.out_dir)
    leftovers = remove_leftover_temporaries(args.out_dir)
    if leftovers:
        names = ", ".join(os.path.basename(p) for p in leftovers)
        print(f"removed {len(leftovers)} temporary file(s) that interrupted saves left in {args.out_dir}: {names}")
    if args.kernels is not None:
        tensor.kernels.set_kernels(args.kernels)
    print(
        f"training on {source}: {len(text):,} characters, device {train_config.device}, "
        f"kernels {tensor.kernels.get_kernels()}"
    )
    try:
        result = train(
            model_config, train_config, text, resume=args.resume, progress=not args.no_progress, compile=args.compile
        )
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the first step
        print(f"\ninterrupted; {_saved(path)}", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except (CheckpointWriteError, FloatingPointError) as error:
        raise SystemExit(f"error: {error}") from None
    if result.interrupted:
        again = ["tinygrad-gpt", "train", "--resume", "--out", args.out_dir, "--steps", str(train_config.steps)]
        print(
            f"interrupted: step {result.saved_step} is saved in {path}; continue with:\n  {shlex.join(again)}",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_INTERRUPTED)
    model = result.model
    print(
        f"done: {len(result.train_losses)} steps, {model.num_parameters():,} parameters, {result.seconds:.1f} s; "
        f"final validation loss {result.final_val_loss:.4f} ({result.final_val_bpc:.3f} bits/char); checkpoint {path}"
    )
    if args.plot:
        from .plots import plot_attention_maps, plot_loss_curve

        plot_loss_curve(
            result.train_losses, result.evals, os.path.join(args.out_dir, "loss_curve.png"), result.learning_rates
        )
        tokenizer = result.tokenizer  # the first block_size tokens of the text
        prompt = tokenizer.decode(tokenizer.encode(text[: 16 * model.block_size])[: model.block_size])
        plot_attention_maps(model, result.tokenizer, prompt, os.path.join(args.out_dir, "attention.png"))
        print(f"plots: {args.out_dir}/loss_curve.png, {args.out_dir}/attention.png")
    print("\n--- sample ---")
    prompt = "\n" if "\n" in text else text[0]
    print(sample(model, result.tokenizer, prompt, args.sample_tokens, seed=train_config.seed))


def _saved(path):
    if not os.path.exists(path):
        return "no checkpoint was written"
    return f"the last checkpoint, {_checkpoint_step(path)}, is in {path}"


def run_generate(args):
    if os.path.isdir(args.checkpoint):
        raise SystemExit(f"error: --checkpoint {args.checkpoint} is a folder: give its checkpoint.npz")
    if not os.path.exists(args.checkpoint):
        raise SystemExit(f"error: no checkpoint at {args.checkpoint}: train one first with `tinygrad-gpt train`")
    print(
        generate_text(
            args.checkpoint,
            args.prompt,
            args.tokens,
            args.temperature,
            args.top_k,
            args.seed,
            device=_device(args.device),
        )
    )


def run_export(args):
    if os.path.isdir(args.checkpoint):
        raise SystemExit(f"error: --checkpoint {args.checkpoint} is a folder: give its checkpoint.npz")
    if not os.path.exists(args.checkpoint):
        raise SystemExit(f"error: no checkpoint at {args.checkpoint}: train one first with `tinygrad-gpt train`")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise SystemExit(f"error: --out {args.out} is a file, not a folder")
    existing = existing_export_files(args.out)
    if existing and not args.overwrite:
        raise SystemExit(
            f"error: {args.out} already holds an export ({', '.join(existing)}); "
            "export into a new --out, or replace it with --overwrite"
        )
    _check_writable_folder(args.out)
    weights, config = export_checkpoint(args.checkpoint, args.out, overwrite=args.overwrite)
    print(f"exported {args.checkpoint}: {weights} ({os.path.getsize(weights):,} bytes), {config}")


def run_bench(argv):
    """Run `python -m benchmarks ARGV` in a process of its own and exit with its status.

    The benchmark program lives in a checkout of the repository, a layer above the library: the
    library never imports it. It is looked for where Python finds modules (the current folder first)."""
    spec = importlib.util.find_spec("benchmarks")
    if spec is None or spec.origin is None or not os.path.isfile(os.path.join(os.path.dirname(spec.origin), "run.py")):
        raise SystemExit(
            "error: `tinygrad-gpt bench` runs the benchmarks of a checkout of the repository, and benchmarks/ "
            "is not here (the installed package holds tensor, nn and tinygrad_gpt only): run it from the "
            "repository's root folder, or there `python -m benchmarks --quick`"
        )
    checkout = os.path.dirname(os.path.dirname(spec.origin))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [checkout, os.environ.get("PYTHONPATH")]))}
    raise SystemExit(subprocess.run([sys.executable, "-m", "benchmarks", *argv], env=env).returncode)


def main(argv=None):
    tensor.backend.tune_malloc()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # everything after "bench" belongs to the benchmark program
        run_bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    flags = {**getattr(args, "model_flags", {}), **getattr(args, "train_flags", {})}
    for name, value in vars(args).items():
        if isinstance(value, list) and not name.endswith("flags"):  # argparse reads "--option=--" as []
            parser.error(f"argument {flags.get(name, '--' + name.replace('_', '-'))}: expected one value")
    started = time.perf_counter()
    try:
        {"train": run_train, "generate": run_generate, "export": run_export}[args.command](args)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    except KeyboardInterrupt:
        print(f"\ninterrupted after {time.perf_counter() - started:.0f} s", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None


if __name__ == "__main__":
    main()
