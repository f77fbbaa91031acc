#!/usr/bin/env python3
"""Policy load: parse and validate an N-credential policy with `rekeyd check`.

    python3 benches/policy_load.py [--n 10000] [--runs 7] [--bin target/release/rekeyd]

The policy is benches/fleet.py's mixed fleet (a third of each kind, cron,
interval and IVS-expiry schedules). Each run is a whole `rekeyd check`
process (start, read, parse, validate, print, exit); its wall time and peak
resident memory are measured with wait4, from a small interpreter of its own
(a process forked from this script starts with the script's memory as its
peak). A 100-credential policy is timed the same way, so the per-credential
cost is the difference. Prints a Markdown section; progress on stderr.
Build first: cargo build --release.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402


# Runs the command given as arguments and prints its wall time, peak
# resident memory (KiB) and CPU time as JSON. In a fresh interpreter: a
# child forked from this script would start with the script's own resident
# memory (the fleet it generated) as its peak, and keep it past exec.
_MEASURE = """
import json, os, subprocess, sys, time
started = time.monotonic()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
stderr = process.stderr.read()
_, status, usage = os.wait4(process.pid, 0)
print(json.dumps({"elapsed": time.monotonic() - started, "code": os.waitstatus_to_exitcode(status),
                  "maxrss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime,
                  "stderr": stderr.decode(errors="replace")}))
"""


def time_check(binary, policy_path, env):
    """Wall time, peak resident memory (MiB) and CPU time of one `rekeyd check`."""
    measured = subprocess.run([sys.executable, "-c", _MEASURE, binary, "--config", policy_path,
                               "check"], env=env, capture_output=True, text=True, check=True)
    result = json.loads(measured.stdout)
    if result["code"] != 0:
        raise RuntimeError(f"rekeyd check failed: {result['stderr']}")
    return result["elapsed"], result["maxrss_kib"] / 1024, result["cpu"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--bin", default="target/release/rekeyd")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="rekeyd-policy-load-") as work:
        env = fleet.aws_env(work)
        for n in (100, args.n):
            policy, _ = fleet.mixed_fleet(n, "http://127.0.0.1:9")
            path = os.path.join(work, f"policy-{n}.toml")
            with open(path, "w") as f:
                f.write(policy)
            size = os.path.getsize(path)
            time_check(args.bin, path, env)  # warm the page cache
            results = [time_check(args.bin, path, env) for _ in range(args.runs)]
            print(f"policy load bench: {n} credentials: {results}", file=sys.stderr)
            rows.append((n, size, [r[0] for r in results], [r[1] for r in results],
                         [r[2] for r in results]))

    print(f"## Policy load, {args.n:,} credentials\n")
    print(f"{date.today()}, `python3 benches/policy_load.py --n {args.n} --runs {args.runs}`, "
          f"binary `{args.bin}` ({fleet.machine()}). One `rekeyd check` process per run.\n")
    print("| credentials | policy size | wall time | CPU time | peak resident memory |")
    print("|---|---|---|---|---|")
    for n, size, times, rss, cpu in rows:
        print(f"| {n:,} | {size / 1024:.0f} KiB | {fleet.spread(times, ' s')} | "
              f"{fleet.spread(cpu, ' s')} | {fleet.spread(rss, ' MiB', 1)} |")


if __name__ == "__main__":
    main()
