"""The long run: `python -m tests.conformance.fuzz --minutes 10 --seed 12345 [--optimizers]`.

Draws programs with Hypothesis (seeded, in batches, until the time is up), runs each on PyTorch
and on ours, and prints every divergence as a minimal program: the lines of the failing program
that still diverge when dropped one at a time are removed. Gaps (we refuse what PyTorch accepts)
are counted by message. The exit status is 1 when a divergence was found.
"""

import argparse
import collections
import time

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from .harness import Divergence, Session, minimize, run_program
from .programs import run_drawn_program

BATCH = 50


def fuzz(minutes, first_seed, optimizers=False, max_lines=12):
    """Run for `minutes`; returns (programs run, minimal diverging programs, gap counts)."""
    deadline = time.monotonic() + 60 * minutes
    found, gaps, count, rounding = {}, collections.Counter(), [0], [0]

    @settings(max_examples=BATCH, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one_program(data):  # the time is checked between batches: a test that stops drawing early is "flaky"
        count[0] += 1
        session = Session()
        try:
            run_drawn_program(data.draw, session, max_lines, optimizers)
        except Divergence as divergence:
            program = minimize(divergence.lines)
            try:
                run_program(program)
            except Divergence as minimal:
                found.setdefault("\n".join(program), str(minimal))
        rounding[0] += session.rounding is not None
        if session.gap:
            gaps[session.gap.split(":")[0] + ": " + session.gap.split(":", 1)[-1].strip()[:80]] += 1

    batch = 0
    while time.monotonic() < deadline:
        seed(first_seed + batch)(one_program)()
        batch += 1
    return count[0], found, gaps, rounding[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--optimizers", action="store_true", help="draw optimizer and scheduler programs too")
    parser.add_argument("--max-lines", type=int, default=12)
    args = parser.parse_args()
    programs, found, gaps, rounding = fuzz(args.minutes, args.seed, args.optimizers, args.max_lines)
    for report in found.values():
        print(report, end="\n\n")
    print(f"gaps (we refuse what PyTorch accepts), {sum(gaps.values())} programs:")
    for message, n in gaps.most_common():
        print(f"  {n:5d}  {message}")
    print(f"{rounding} programs stopped at a float32 rounding difference that float64 does not show")
    print(f"seed {args.seed}: {programs} programs, {len(found)} divergences")
    raise SystemExit(1 if found else 0)


if __name__ == "__main__":
    main()
