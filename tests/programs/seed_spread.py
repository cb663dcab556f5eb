"""Is our printed loss within PyTorch's own seed-to-seed spread? The parsing and the verdict of that check.

PyTorch runs each program with several seeds (the program's own, then +1, +2, ...); we run it once, with the
program's own seed. Our random numbers are not PyTorch's (same distributions, another generator), so ours is
one more draw of a run, and the question is whether it lands where PyTorch's runs land.

The printed values are paired by the line they sit on: a line's template (its text with every number made `#`)
and its occurrence number among the lines with that template (the 3rd "step # | loss # | step time #ms" line is
step 20 in every run). Then each value of ours gets one of these verdicts against PyTorch's values min..max:
  - "match":   PyTorch's seeds all print the same value (a deterministic computation, such as part 1's
               bigram counts' log-likelihood): ours must equal it to float32 round-off, TOLERANCE below.
  - "inside":  min <= ours <= max (each end widened by TOLERANCE).
  - "near":    outside min..max, but no farther from PyTorch's nearest seed than PyTorch's seeds are from each
               other (max - min): ours differs from PyTorch no more than PyTorch differs from itself.
  - "OUTSIDE": farther than that.
How often a draw of the same distribution is "OUTSIDE" by chance depends only on the number of seeds
(CHANCE_OUTSIDE): with 3 seeds, 13% of honest values. So one value outside says little; a program's verdict
asks for its final loss, its deterministic values and part 4's gradient checks, and reports the count of the
rest, to read against that rate.
"""

import math
import re

NUMBER = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?|-?\d+(?:e[-+]?\d+)?", re.IGNORECASE)
FLOAT = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?", re.IGNORECASE)
TIMING = re.compile(r"\d+(?:\.\d+)?\s*ms\b")  # step times and iter_dt: speed, not a loss
GRAD_FN = re.compile(r", grad_fn=[^)]*")  # a scalar's grad_fn: its name is the library's, not the program's
CMP_LINE = re.compile(r"\|\s*exact:\s*(True|False)\s*\|\s*approximate:\s*(True|False)")

RELATIVE_ROUND_OFF = 1e-5  # float32's 1.2e-7, times ~100 for a different order of summation

# How often one more draw of the same distribution is "OUTSIDE" n seeds' values, by the number of seeds n:
# simulated with normal draws (10^6 trials; for the strict range min..max it would be 2 / (n + 1) whatever
# the distribution, for the widened one it depends a little on the distribution's tails).
CHANCE_OUTSIDE = {2: 0.333, 3: 0.133, 4: 0.060, 5: 0.030}


def template(line):
    """The line with its timings and grad_fn dropped and every number made `#`: what pairs a line across runs."""
    line = GRAD_FN.sub("", TIMING.sub("#ms", line))
    return " ".join(NUMBER.sub("#", line).split())


def values(line):
    """The line's float values, its timings left out (integers are counters: steps, counts, sizes)."""
    if CMP_LINE.search(line):
        return []  # part 4's comparisons: their verdict is the word approximate, not maxdiff's round-off
    return [float(v) for v in FLOAT.findall(TIMING.sub("", line))]


def printed_unit(text):
    """One unit in the last printed digit of a number as printed: "3.2017" -> 1e-4, "1.5e-09" -> 1e-10."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def tolerance(value, texts):
    """Float32 round-off of a value, plus the rounding of its printing (the coarsest of the texts given)."""
    return RELATIVE_ROUND_OFF * abs(value) + max(printed_unit(t) for t in texts)


def keyed(lines):
    """[(template, occurrence), line] for each line: the pairing key across runs."""
    seen, out = {}, []
    for line in lines:
        key = template(line)
        seen[key] = seen.get(key, 0) + 1
        out.append(((key, seen[key]), line))
    return out


def verdict(ours, theirs, tol):
    """One of "match", "MISMATCH", "inside", "near", "OUTSIDE" (module docstring) for a value of ours."""
    low, high = min(theirs), max(theirs)
    spread = high - low
    if spread <= tol:
        return "match" if low - tol <= ours <= high + tol else "MISMATCH"
    if low - tol <= ours <= high + tol:
        return "inside"
    distance = low - ours if ours < low else ours - high
    return "near" if distance <= spread + tol else "OUTSIDE"


def compare(ours_lines, torch_runs):
    """Pair our loss lines with each PyTorch seed's; one row per value of ours that every seed also printed.

    Returns rows {line, index, ours, low, high, verdict} (index: which value of the line) and the lines of ours
    no seed paired (printed here only)."""
    runs = [dict(keyed(lines)) for lines in torch_runs]
    rows, unpaired = [], []
    for key, line in keyed(ours_lines):
        partners = [run.get(key) for run in runs]
        if not partners or any(p is None for p in partners):
            unpaired.append(line)
            continue
        ours_texts = FLOAT.findall(TIMING.sub("", line)) if values(line) else []
        for index, value in enumerate(values(line)):
            theirs_texts = [FLOAT.findall(TIMING.sub("", p))[index] for p in partners]
            theirs = [float(t) for t in theirs_texts]
            tol = tolerance(value, [ours_texts[index]] + theirs_texts)
            rows.append(
                {
                    "key": (key, index),
                    "line": line,
                    "index": index,
                    "ours": value,
                    "low": min(theirs),
                    "high": max(theirs),
                    "verdict": verdict(value, theirs, tol),
                }
            )
    return rows, unpaired


def cmp_failures(lines):
    """Part 4's comparison lines of ours that do not say approximate: True."""
    return [line for line in lines if (m := CMP_LINE.search(line)) and m.group(2) != "True"]


def program_verdict(rows, cmp_lines_failed, reached_end):
    """PASS when the run reached its end, part 4's checks say approximate True, every deterministic value
    matches, and the final value (the last row: the program's last printed loss or score) is inside or near
    PyTorch's spread. Other stochastic values outside are counted, not failed (CHANCE_OUTSIDE)."""
    problems = []
    if not reached_end:
        problems.append("did not reach its end")
    if cmp_lines_failed:
        problems.append(f"{len(cmp_lines_failed)} gradient checks not approximate")
    mismatched = [r for r in rows if r["verdict"] == "MISMATCH"]
    if mismatched:
        problems.append(f"{len(mismatched)} deterministic values differ")
    if not rows:
        problems.append("no paired values")
    elif rows[-1]["verdict"] in ("OUTSIDE", "MISMATCH"):
        problems.append("final value outside the spread")
    return ("PASS" if not problems else "FAIL: " + "; ".join(problems)), problems


def counts(rows):
    """{verdict: how many rows} in a fixed order, for the summary."""
    order = ("match", "MISMATCH", "inside", "near", "OUTSIDE")
    return {v: sum(r["verdict"] == v for r in rows) for v in order}


def format_value(value):
    return f"{value:.7g}" if math.isfinite(value) else str(value)


def own_spread(ours_lines, more_ours):
    """{row key: "min..max"} of our own values over our extra seeds' runs (and ours), for a second look."""
    if not more_ours:
        return {}
    rows, _ = compare(ours_lines, [ours_lines] + more_ours)
    return {r["key"]: f"{format_value(r['low'])}..{format_value(r['high'])}" for r in rows}


def report(ours_lines, seed_lines, ends, width=60, more_ours=()):
    """Print each paired value (ours, PyTorch's min..max over the seeds, verdict); return the program's summary.

    ends: whether each run reached its end, ours first, then the seeds in order. more_ours: our runs with other
    seeds (--ours-seeds), shown beside as our own spread; the verdict is still on ours, the program's own seed."""
    rows, unpaired = compare(ours_lines, seed_lines)
    own = own_spread(ours_lines, list(more_ours))
    extra = f"  {'ours, its seeds':>22s}" if own else ""
    print(f"    {'line (ours)':{width}s}  {'ours':>10s}  {'PyTorch min..max':>22s}  verdict{extra}")
    for row in rows:
        spread = f"{format_value(row['low'])}..{format_value(row['high'])}"
        beside = f"  {own.get(row['key'], '-'):>22s}" if own else ""
        line = f"    {row['line'][:width]:{width}s}  {format_value(row['ours']):>10s}  {spread:>22s}"
        print(f"{line}  {row['verdict']:8s}{beside}")
    for line in unpaired:
        print(f"    {line[:width]:{width}s}  (no PyTorch seed printed this line)")
    failed_checks = cmp_failures(ours_lines)
    for line in failed_checks:
        print(f"    gradient check not approximate: {line}")
    verdict, _ = program_verdict(rows, failed_checks, ends[0])
    final = rows[-1] if rows else None
    summary = {
        "ours_end": ends[0],
        "torch_ends": sum(ends[1:]),
        "seeds": len(ends) - 1,
        "final_line": final["line"] if final else "",
        "final_ours": final["ours"] if final else None,
        "final_low": final["low"] if final else None,
        "final_high": final["high"] if final else None,
        "final_verdict": final["verdict"] if final else "-",
        "final_own": own.get(final["key"]) if final else None,
        "counts": counts(rows),
        "checks": sum(1 for line in ours_lines if CMP_LINE.search(line)),
        "checks_failed": len(failed_checks),
        "verdict": verdict,
    }
    c = summary["counts"]
    print(
        f"  {len(rows)} values: {c['match']} deterministic match, {c['MISMATCH']} MISMATCH, {c['inside']} inside,"
        f" {c['near']} near, {c['OUTSIDE']} OUTSIDE (chance: {CHANCE_OUTSIDE.get(summary['seeds'], 0):.0%} of"
        f" stochastic values)  -> {verdict}"
    )
    return summary


def summary_table(summaries, seeds):
    """One line per program: reached end (ours / PyTorch seeds), final value ours, PyTorch's range, verdict."""
    print(f"\nSummary ({seeds} PyTorch seeds; final = the last value printed, its line's start in brackets)")
    header = f"{'program':21s} {'end ours/torch':>14s} {'final ours':>11s} {'PyTorch seeds':>21s} {'final':>8s}"
    print(header + f" {'match/MIS/in/near/OUT':>21s}  verdict")
    for program, s in summaries.items():
        if s is None:
            print(f"{program:21s} (not judged: one PyTorch seed)")
            continue
        ends = f"{'yes' if s['ours_end'] else 'NO'} / {s['torch_ends']}/{s['seeds']}"
        final = format_value(s["final_ours"]) if s["final_ours"] is not None else "-"
        spread = (
            f"{format_value(s['final_low'])}..{format_value(s['final_high'])}" if s["final_low"] is not None else "-"
        )
        c = s["counts"]
        tally = f"{c['match']}/{c['MISMATCH']}/{c['inside']}/{c['near']}/{c['OUTSIDE']}"
        print(
            f"{program:21s} {ends:>14s} {final:>11s} {spread:>21s} {s['final_verdict']:>8s} {tally:>21s}  {s['verdict']}"
        )
        print(
            f"{'':21s}   [{s['final_line'][:60]}]"
            + (f"  ours over its seeds: {s['final_own']}" if s.get("final_own") else "")
            + (f"  part 4 checks: {s['checks'] - s['checks_failed']}/{s['checks']} approximate" if s["checks"] else "")
        )
