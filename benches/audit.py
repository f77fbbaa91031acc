#!/usr/bin/env python3
"""`rekeyd audit` over N mixed credentials against the bundled emulator.

    python3 benches/audit.py [--n 5000] [--runs 5] [--bin target/release/rekeyd]

Seeds benches/fleet.py's mixed fleet (a third of each kind, each with a
rekeyd-format secret written just now) plus 50 unmanaged tagged secrets,
checks one run of each mode reports every credential `ok` and the 50
`unmanaged`, counts the calls the emulator served, then times `audit
--offline --format json` (Secrets Manager only) and `audit --format json`
(provider probes too). Prints a Markdown section; progress on stderr.
Build first: cargo build --release.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402

UNMANAGED = 50


def audit(args, policy_path, env, *extra):
    command = [args.bin, "--config", policy_path, "-q", "audit", "--format", "json", *extra]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    return time.monotonic() - started, result


def checked_calls(args, emulator, policy_path, env, *extra):
    """One audit whose report is checked; the calls it made, by operation."""
    emulator.clear_calls()
    _, result = audit(args, policy_path, env, *extra)
    report = json.loads(result.stdout)
    summary = report["summary"]
    if summary.get("ok") != args.n or summary.get("unmanaged") != UNMANAGED:
        raise RuntimeError(f"audit {' '.join(extra)}: unexpected summary {summary}: {result.stderr}")
    by = collections.Counter(f"{c['service']}:{c['operation']}" for c in emulator.calls())
    return ", ".join(f"{op} {count}" for op, count in sorted(by.items())) + f" (total {sum(by.values())})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bin", default="target/release/rekeyd")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="rekeyd-audit-") as work:
        env = fleet.aws_env(work)
        with fleet.Emulator(args.bin, env) as emulator:
            policy, seed = fleet.mixed_fleet(args.n, emulator.url)
            seed["secrets"] += [{"name": f"rekeyd/retired-{i}", "secret_string": "{}",
                                 "tags": {"rekeyd:credential": f"retired-{i}"}}
                                for i in range(UNMANAGED)]
            emulator.seed(seed)
            policy_path = os.path.join(work, "policy.toml")
            with open(policy_path, "w") as f:
                f.write(policy)
            for label, extra in (("`audit --offline --format json`", ("--offline",)),
                                 ("`audit --format json` (provider probes)", ())):
                calls = checked_calls(args, emulator, policy_path, env, *extra)
                times = [audit(args, policy_path, env, *extra)[0] for _ in range(args.runs)]
                print(f"audit bench: {label}: {times}; {calls}", file=sys.stderr)
                rows.append((label, times, calls))

    print(f"## `rekeyd audit`, {args.n:,} credentials\n")
    print(f"{date.today()}, `python3 benches/audit.py --n {args.n} --runs {args.runs}`, binary "
          f"`{args.bin}`, emulator in its own process on the same machine ({fleet.machine()}), "
          f"`[daemon] concurrency` 8, no rate limits. {args.n:,} mixed credentials (a third of "
          f"each kind) with rekeyd-format secrets, plus {UNMANAGED} unmanaged tagged secrets.\n")
    print("| run | wall time | calls served by the emulator |")
    print("|---|---|---|")
    for label, times, calls in rows:
        print(f"| {label} | {fleet.spread(times, ' s')} | {calls} |")


if __name__ == "__main__":
    main()
