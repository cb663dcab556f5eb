"""The `tinygrad-gpt` command line (also `python -m tinygrad_gpt`)."""

import argparse
import os
import sys
import time

import tensor

from .data import builtin_corpus, load_text
from .generate import generate_text, sample
from .gpt import GPTConfig
from .train import TrainConfig, train


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
        description="Train a character-level GPT written from scratch on NumPy, and sample text from it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    t = commands.add_parser(
        "train",
        help="train a GPT on a text file (default: the built-in Python documentation corpus)",
        description="Train a GPT, show progress, save checkpoints, and print a sample at the end.",
    )
    t.add_argument("--data", help="a UTF-8 text file to train on (default: the built-in corpus, no download)")
    t.add_argument("--steps", type=int, default=3000, help="optimizer steps in total (default: 3000)")
    t.add_argument("--batch-size", type=int, default=16, help="sequences per step (default: 16)")
    t.add_argument("--block-size", type=int, default=32, help="context length in characters (default: 32)")
    t.add_argument("--n-embd", type=int, default=64, help="embedding width C (default: 64)")
    t.add_argument("--n-head", type=int, default=4, help="attention heads per layer (default: 4)")
    t.add_argument("--n-layer", type=int, default=4, help="transformer blocks (default: 4)")
    t.add_argument("--dropout", type=float, default=0.0, help="dropout probability (default: 0)")
    t.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default: 1e-3)")
    t.add_argument(
        "--eval-interval", type=int, default=500, help="evaluate and checkpoint every N steps (default: 500)"
    )
    t.add_argument("--eval-iters", type=int, default=20, help="batches averaged per evaluation (default: 20)")
    t.add_argument("--seed", type=int, default=1337, help="random seed (default: 1337)")
    t.add_argument("--device", default="cpu", help='"cpu" or "cuda" (default: cpu)')
    t.add_argument("--out", default="runs/default", help="folder for checkpoint.npz and plots (default: runs/default)")
    t.add_argument("--resume", action="store_true", help="continue the checkpoint in --out up to --steps")
    t.add_argument("--sample-tokens", type=int, default=300, help="characters to generate at the end (default: 300)")
    t.add_argument(
        "--plot", action="store_true", help="save loss_curve.png and attention.png in --out (needs matplotlib)"
    )
    t.add_argument("--no-progress", action="store_true", help="print plain lines instead of a progress bar")

    g = commands.add_parser(
        "generate", help="sample text from a checkpoint", description="Sample text from a trained checkpoint."
    )
    g.add_argument(
        "--checkpoint",
        default="runs/default/checkpoint.npz",
        help="checkpoint file (default: runs/default/checkpoint.npz)",
    )
    g.add_argument("--prompt", default="\n", help="text to continue (every character must be in the vocabulary)")
    g.add_argument("--tokens", type=int, default=500, help="characters to generate (default: 500)")
    g.add_argument("--temperature", type=float, default=1.0, help="<1 sharper, >1 more random (default: 1.0)")
    g.add_argument("--top-k", type=int, default=None, help="sample only among the k most likely characters")
    g.add_argument("--seed", type=int, default=None, help="random seed, for reproducible samples")
    g.add_argument("--device", default="cpu", help='"cpu" or "cuda" (default: cpu)')
    commands.add_parser(
        "bench",
        help="run the benchmarks (the same as python -m benchmarks; see tinygrad-gpt bench --help)",
        add_help=False,
    )
    return parser


def run_train(args):
    text = load_text(args.data) if args.data else builtin_corpus()
    source = args.data or "the built-in corpus (Python's pydoc topics)"
    model_config = GPTConfig(
        block_size=args.block_size, n_embd=args.n_embd, n_head=args.n_head, n_layer=args.n_layer, dropout=args.dropout
    )
    train_config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        eval_interval=args.eval_interval,
        eval_iters=args.eval_iters,
        seed=args.seed,
        device=_device(args.device),
        out_dir=args.out,
    )
    print(f"training on {source}: {len(text):,} characters, device {train_config.device}")
    result = train(model_config, train_config, text, resume=args.resume, progress=not args.no_progress)
    model = result.model
    print(
        f"done: {len(result.train_losses)} steps, {model.num_parameters():,} parameters, {result.seconds:.1f} s; "
        f"final validation loss {result.final_val_loss:.4f}; checkpoint {train_config.checkpoint_path()}"
    )
    if args.plot:
        from .plots import plot_attention_maps, plot_loss_curve

        plot_loss_curve(result.train_losses, result.evals, os.path.join(args.out, "loss_curve.png"))
        prompt = text[: model.block_size]
        plot_attention_maps(model, result.tokenizer, prompt, os.path.join(args.out, "attention.png"))
        print(f"plots: {args.out}/loss_curve.png, {args.out}/attention.png")
    print("\n--- sample ---")
    prompt = "\n" if "\n" in result.tokenizer.stoi else text[0]
    print(sample(model, result.tokenizer, prompt, args.sample_tokens, seed=args.seed))


def run_generate(args):
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


def main(argv=None):
    tensor.backend.tune_malloc()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # everything after "bench" belongs to the benchmark program
        from benchmarks.run import main as bench_main

        bench_main(argv[1:])
        return
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        {"train": run_train, "generate": run_generate}[args.command](args)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    except KeyboardInterrupt:
        raise SystemExit(f"\ninterrupted after {time.perf_counter() - started:.0f} s") from None


if __name__ == "__main__":
    main()
