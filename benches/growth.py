#!/usr/bin/env python3
"""How every cost grows with the fleet: one table, N = 1,000 to 100,000.

    flock /tmp/rekeyd-bench.lock python3 benches/growth.py \\
        [--n 1000 10000 100000] [--check-runs 3] [--idle 10] [--bin target/release/rekeyd]

For each N, benches/fleet.py's mixed fleet (a third of each kind, every
secret stored in rekeyd's format, nothing due) is measured the way the other
scripts measure it, each against its own freshly seeded emulator:

  policy load   `rekeyd check`: wall and CPU time, peak resident memory
                (benches/policy_load.py; median of --check-runs)
  daemon        exec to READY=1, every secret read once, resident memory
                after --idle seconds (benches/idle.py, one run)
  plan          `rekeyd plan --format json`, wall and CPU time (one run;
                every credential listed)
  audit         `audit --offline --format json` and `audit --format json`,
                wall time, and CPU time with the probes (benches/audit.py;
                one run each; every credential `ok`)
  rotate --all  wall time, and wall and CPU time per rotation
                (benches/throughput.py's rekeyd contender; one run; every
                secret checked afterwards)

CPU times are user and system time of the rekeyd process: on a busy machine
they move less than wall times.

Prints one Markdown table: a row per figure, a column per N, the cost of
each credential more (between the two largest N) and the growth factor per
tenfold fleet between each pair of N (1.0x: flat, 10x: linear, 100x:
quadratic). Progress on stderr. Build first: cargo build --release.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from types import SimpleNamespace

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402
import idle  # noqa: E402
import policy_load  # noqa: E402
import throughput  # noqa: E402

UNMANAGED = 50

# (key, label, unit, per-credential unit and scale): in table order.
FIGURES = [
    ("check_s", "policy load: `rekeyd check`, wall time", "s", ("µs", 1e6)),
    ("check_cpu_s", "policy load: `rekeyd check`, CPU time", "s", ("µs", 1e6)),
    ("check_mib", "policy load: `rekeyd check`, peak resident memory", "MiB", ("KiB", 1024)),
    ("ready_s", "daemon: exec to `READY=1`", "s", ("µs", 1e6)),
    ("settled_s", "daemon: every secret read once (from exec)", "s", ("µs", 1e6)),
    ("idle_mib", "daemon: idle resident memory", "MiB", ("KiB", 1024)),
    ("plan_s", "`plan --format json`, wall time", "s", ("µs", 1e6)),
    ("plan_cpu_s", "`plan --format json`, CPU time", "s", ("µs", 1e6)),
    ("audit_offline_s", "`audit --offline --format json`, wall time", "s", ("µs", 1e6)),
    ("audit_s", "`audit --format json` (provider probes), wall time", "s", ("µs", 1e6)),
    ("audit_cpu_s", "`audit --format json` (provider probes), CPU time", "s", ("µs", 1e6)),
    ("rotate_s", "`rotate --all`, wall time", "s", ("µs", 1e6)),
    ("per_rotation_ms", "`rotate --all`, wall time per rotation", "ms", None),
    ("cpu_per_rotation_ms", "`rotate --all`, CPU time per rotation", "ms", None),
]


def log(message):
    print(f"growth bench: {message}", file=sys.stderr, flush=True)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command, env, timeout=3600):
    """Wall time, CPU time (user and system) and the finished process."""
    started, cpu = time.monotonic(), children_cpu()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    return time.monotonic() - started, children_cpu() - cpu, result


def policy_figures(args, n, work):
    policy, _ = fleet.mixed_fleet(n, "http://127.0.0.1:9")
    path = os.path.join(work, f"check-{n}.toml")
    with open(path, "w") as f:
        f.write(policy)
    env = fleet.aws_env(work)
    policy_load.time_check(args.bin, path, env)  # warm the page cache
    runs = [policy_load.time_check(args.bin, path, env) for _ in range(args.check_runs)]
    return {"check_s": statistics.median(r[0] for r in runs),
            "check_cpu_s": statistics.median(r[2] for r in runs),
            "check_mib": statistics.median(r[1] for r in runs)}


def daemon_figures(args, n, work):
    result = idle.one_run(SimpleNamespace(n=n, idle=args.idle, bin=args.bin), work)
    if result["mutations"]:
        raise RuntimeError(f"the idle daemon made {result['mutations']} mutating calls")
    return {"ready_s": result["ready"], "settled_s": result["settled"],
            "idle_mib": result["rss_mib"]}


def read_only_figures(args, n, work):
    """`plan` and both audits, on a fleet where nothing is due."""
    env = fleet.aws_env(work)
    with fleet.Emulator(args.bin, env) as emulator:
        policy, seed = fleet.mixed_fleet(n, emulator.url)
        seed["secrets"] += [{"name": f"rekeyd/retired-{i}", "secret_string": "{}",
                             "tags": {"rekeyd:credential": f"retired-{i}"}}
                            for i in range(UNMANAGED)]
        emulator.seed(seed)
        path = os.path.join(work, "policy.toml")
        with open(path, "w") as f:
            f.write(policy)
        figures = {}
        wall, cpu, result = timed([args.bin, "--config", path, "-q", "plan", "--format", "json"],
                                  env)
        planned = json.loads(result.stdout or "{}").get("credentials", [])
        if result.returncode != 0 or len(planned) != n:
            raise RuntimeError(f"plan: exit {result.returncode}, {len(planned)} of {n} planned: "
                               f"{result.stderr[-2000:]}")
        figures["plan_s"], figures["plan_cpu_s"] = wall, cpu
        for key, extra in (("audit_offline", ["--offline"]), ("audit", [])):
            wall, cpu, result = timed([args.bin, "--config", path, "-q", "audit", "--format", "json",
                                  *extra], env)
            summary = json.loads(result.stdout or "{}").get("summary", {})
            if summary.get("ok") != n or summary.get("unmanaged") != UNMANAGED:
                raise RuntimeError(f"audit {' '.join(extra)}: unexpected summary {summary}: "
                                   f"{result.stderr[-2000:]}")
            figures[f"{key}_s"], figures[f"{key}_cpu_s"] = wall, cpu
    return figures


def rotate_figures(args, n, work):
    with fleet.Emulator(args.bin, fleet.aws_env(work)) as emulator:
        bench = throughput.Bench(SimpleNamespace(wrap="", bin=args.bin, concurrency=8), work,
                                 emulator)
        policy, seed, rows = throughput.fleet_of(n, emulator.url, 8, False)
        result = bench.run("rekeyd", policy, seed, rows)
    return {"rotate_s": result["wall"], "per_rotation_ms": 1000 * result["wall"] / n,
            "cpu_per_rotation_ms": 1000 * result["client_cpu"] / n}


def measure(args, n):
    figures = {}
    for step in (policy_figures, daemon_figures, read_only_figures, rotate_figures):
        with tempfile.TemporaryDirectory(prefix="rekeyd-growth-") as work:
            started = time.monotonic()
            figures.update(step(args, n, work))
            log(f"n={n}: {step.__name__} in {time.monotonic() - started:.1f} s")
    log(f"n={n}: {figures}")
    return figures


def value(number, unit):
    digits = 1 if unit == "MiB" else 3
    return f"{number:.{digits}f} {unit}"


def growth(sizes, values):
    """The factor per tenfold fleet between each pair of sizes."""
    factors = []
    for (n1, v1), (n2, v2) in zip(zip(sizes, values), zip(sizes[1:], values[1:])):
        if v1 <= 0 or v2 <= 0:
            factors.append("–")
            continue
        per_decade = (v2 / v1) ** (1 / math.log10(n2 / n1))
        factors.append(f"{per_decade:.1f}x")
    return ", ".join(factors)


def report(args, shown_bin, results):
    sizes = sorted(results)
    command = " ".join(["python3 benches/growth.py --n", *map(str, sizes),
                        f"--check-runs {args.check_runs} --idle {args.idle:g}"])
    print(f"## Growth, {' to '.join(f'{n:,}' for n in (sizes[0], sizes[-1]))} credentials\n")
    per = (f" Per credential: the cost of each credential more, between {sizes[-2]:,} and "
           f"{sizes[-1]:,}." if len(sizes) > 1 else "")
    runs = (f"`rekeyd check` is the median of {args.check_runs} runs, every other figure one run."
            if args.check_runs > 1 else "Every figure is one run.")
    print(f"{date.today()}, `{command}`, binary `{shown_bin}`, emulator in its own process on "
          f"the same machine ({fleet.machine()}). Mixed fleet (a third of each kind, every "
          f"secret stored in rekeyd's format, nothing due; the audits also find "
          f"{UNMANAGED} unmanaged secrets). {runs}{per}\n")
    pairs = ", ".join(f"{a:,}→{b:,}" for a, b in zip(sizes, sizes[1:]))
    print("| figure | " + " | ".join(f"{n:,}" for n in sizes)
          + f" | per credential | growth per 10x ({pairs}) |")
    print("|---|" + "---|" * len(sizes) + "---|---|")
    for key, label, unit, per in FIGURES:
        values = [results[n][key] for n in sizes]
        if per and len(sizes) > 1:
            per_unit, scale = per
            marginal = (values[-1] - values[-2]) / (sizes[-1] - sizes[-2]) * scale
            per_text = f"{marginal:.1f} {per_unit}"
        else:
            per_text = "–"
        print(f"| {label} | " + " | ".join(value(v, unit) for v in values)
              + f" | {per_text} | {growth(sizes, values)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--check-runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0,
                        help="seconds the daemon idles before its memory is read")
    parser.add_argument("--bin", default="target/release/rekeyd")
    args = parser.parse_args()
    shown_bin = args.bin
    args.bin = os.path.abspath(args.bin)
    results = {}
    for n in sorted(set(args.n)):
        results[n] = measure(args, n)
    report(args, shown_bin, results)


if __name__ == "__main__":
    main()
