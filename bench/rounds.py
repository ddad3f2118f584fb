"""Helpers for the benchmarks measured in interleaved rounds (bench/cluster.sh, bench/recovery.sh).

On this shared 2-core machine one measurement of the same binary varies by ±25–40% from run to run, so
these scripts run every variant once per round, round after round, and report the median of the rounds
with their spread (min–max). A ratio between two variants is the ratio of their medians, beside the
range of the per-round (paired) ratios; when those paired ratios fall on both sides of 1, the
difference is reported as within noise, and when they agree but the two variants' own ranges overlap,
that is said too.
"""

import json
import pathlib
import statistics

# How the tables read; the scripts put it under their section's heading.
NOTE = (
    "the median of the rounds, (min–max) beside it. A ratio is the ratio of the medians, beside the range "
    "of the per-round (paired) ratios: \"within noise\" when those fall on both sides of 1, \"ranges "
    "overlap\" when every round points the same way but the two variants' own min–max ranges overlap "
    "(on this machine one binary varies by ±25–40% between runs, so read such a difference as unproven)."
)


def load(path):
    """The last JSON line of a load generator's output, or {} when missing or unreadable."""
    try:
        return json.loads(pathlib.Path(path).read_text().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return {}


def get(d, key):
    """A (dotted) numeric field of one result, or None."""
    for part in key.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d if isinstance(d, (int, float)) and not isinstance(d, bool) else None


def values(results, key):
    """The field over the rounds, None where a round has no figure."""
    return [get(r, key) for r in results]


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def spread_cell(vals, fmt):
    """`median (min–max)` over the rounds that have a figure; n/a when none has."""
    vals_ok = [v for v in vals if v is not None]
    if not vals_ok:
        return "n/a"
    m = fmt.format(statistics.median(vals_ok))
    if len(vals_ok) == 1:
        return m
    return f"{m} ({fmt.format(min(vals_ok))}–{fmt.format(max(vals_ok))})"


def ratio_cell(num, den, fmt="{:.2f}"):
    """Ratio of medians, then the range of the paired per-round ratios. "within noise" when those fall
    on both sides of 1 (or on it); "ranges overlap" when every round points the same way but the two
    variants' own spreads (min–max over the rounds) overlap."""
    a, b = med(num), med(den)
    if a is None or not b:
        return "n/a"
    paired = [x / y for x, y in zip(num, den) if x is not None and y]
    cell = f"{fmt.format(a / b)}×"
    if len(paired) > 1:
        cell += f" (rounds {fmt.format(min(paired))}–{fmt.format(max(paired))}"
        nums, dens = [v for v in num if v is not None], [v for v in den if v is not None]
        if min(paired) <= 1 <= max(paired):
            cell += ", within noise"
        elif min(nums) <= max(dens) and min(dens) <= max(nums):
            cell += ", ranges overlap"
        cell += ")"
    return cell


def total(results, key):
    vals = [get(r, key) for r in results]
    if any(v is None for v in vals) or not vals:
        return None
    return sum(vals)


def integrity_cell(results):
    """Lost / out of order / malformed deliveries summed over the rounds."""
    parts = [total(results, k) for k in ("lost", "out_of_order", "bad_packets")]
    return " / ".join("n/a" if p is None else str(p) for p in parts)


def offset_cell(results):
    """How many deliveries carried a recovery offset, of all deliveries (every round)."""
    n, d = total(results, "with_offset"), total(results, "deliveries")
    if n is None or d is None:
        return "n/a"
    if n == 0:
        return "none"
    if n == d:
        return "all"
    return f"{n:,} of {d:,}"


def replace_section(results_path, begin, end, section):
    """Writes `section` between the markers of RESULTS.md (appended the first time)."""
    results = pathlib.Path(results_path)
    text = results.read_text() if results.exists() else ""
    if begin in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1] if end in rest else ""
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)


def per_delivery(result, cpu_key):
    """A CPU field of the window (`server_user_us`, `server_sys_us`) per measured delivery, in µs."""
    us, n = get(result, f"cpu.{cpu_key}"), get(result, "measured_deliveries")
    return us / n if us is not None and n else None


def user_sys_cell(results, fmt="{:.3f}"):
    """Median user / median sys µs per delivery over the rounds."""
    parts = [med([per_delivery(r, k) for r in results]) for k in ("server_user_us", "server_sys_us")]
    return " / ".join("n/a" if p is None else fmt.format(p) for p in parts)
