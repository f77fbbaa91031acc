#!/usr/bin/env python3
"""Replicas at the providers' quota: K `rekeyd daemon` processes sharing one
policy with `[coordination]` (DynamoDB leases) rotate a fleet that is all due
at once, against an emulator that throttles the four rotation services at a
fixed rate, as AWS's per-account quotas do.

    flock /tmp/rekeyd-bench.lock python3 benches/replicas.py \\
        [--n 300] [--quota 20] [--limit all|providers] [--replicas 1,3] \\
        [--runs 1] [--lease 10s] [--bin target/release/rekeyd]

Starts `rekeyd emulator` (the --bin binary) in its own process. For each run
and replica count (interleaved), resets the emulator, seeds benches/fleet.py's
mixed fleet of N credentials with secrets written 60 days ago (so every one is
due when the daemons start), an empty lease table, and a quota of --quota
requests/s (burst the same) on IAM, Chime, IVS and Secrets Manager
(`--limit all`) or on the three providers only (`--limit providers`: the
providers' quota binds, and Secrets Manager reads at start cost nothing);
DynamoDB, the lease table, is not limited. Then starts K daemons (each its own state
directory; replica ids are hostname:pid) and waits until every secret holds
the provider's live value, then stops them.

Reports wall time, rotations per second, the busiest service's served calls
per second as a fraction of the quota, throttled calls, DynamoDB calls per
rotation, and double rotations: provider calls (RegenerateSecurityToken,
ResetServiceSpecificCredential, CreateParticipantToken) for one credential
beyond the one its rotation needed, from the emulator's call log. Prints a
Markdown section on stdout, progress on stderr; exits 1 when a run did not
finish, stored a wrong secret, or rotated a credential twice.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402
from quota import SERVICES, verify  # noqa: E402

TABLE = "rekeyd-leases"
PROVIDER_CALLS = ("RegenerateSecurityToken", "ResetServiceSpecificCredential",
                  "CreateParticipantToken")


def log(message):
    print(f"replicas bench: {message}", file=sys.stderr, flush=True)


def limited_services(args):
    return SERVICES if args.limit == "all" else tuple(s for s in SERVICES if s != "secretsmanager")


def one_run(args, emulator, policy_path, seed, work, replicas):
    emulator.reset()
    emulator.seed(seed)
    emulator.seed({"dynamodb_tables": [{"name": TABLE, "partition_key": "credential"}]})
    emulator._request("/_emulator/quotas", {s: args.quota for s in limited_services(args)},
                      method="PUT")
    daemons = []
    started = time.monotonic()
    for k in range(replicas):
        env = fleet.aws_env(work, STATE_DIRECTORY=os.path.join(work, f"state-{replicas}-{k}"))
        daemons.append(subprocess.Popen(
            [args.bin, "--config", policy_path, "-q", "daemon", "--allow-root"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    deadline = started + max(120, 10 * args.n / args.quota)
    problems = ["not started"]
    try:
        while time.monotonic() < deadline:
            time.sleep(1)
            problems = verify(emulator.truth(), seed)
            if not problems:
                break
            if any(d.poll() is not None for d in daemons):
                problems.append("a daemon exited")
                break
    finally:
        wall = time.monotonic() - started
        for d in daemons:
            d.send_signal(signal.SIGTERM)
        stderr = ""
        for d in daemons:
            try:
                _, err = d.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                d.kill()
                _, err = d.communicate()
            stderr += err[-1000:]
    calls = emulator.calls()
    summary = Counter(c["service"] for c in calls)
    throttled = sum(c.get("throttled", False) for c in calls)
    served = Counter(c["service"] for c in calls if not c.get("throttled", False))
    limited = {svc: n for svc, n in served.items() if svc in limited_services(args)}
    bottleneck = max(limited, key=limited.get)
    provider = Counter(c.get("resource") for c in calls
                       if c["operation"] in PROVIDER_CALLS and c["mutated"])
    doubles = sum(n - 1 for n in provider.values() if n > 1)
    return {
        "wall": wall, "problems": problems, "rotations": sum(provider.values()),
        "rate": sum(provider.values()) / wall,
        "utilisation": limited[bottleneck] / wall / args.quota, "bottleneck": bottleneck,
        "throttled_pct": 100.0 * throttled / max(len(calls), 1),
        "dynamodb_per_rotation": summary.get("dynamodb", 0) / max(sum(provider.values()), 1),
        "doubles": doubles, "stderr_tail": stderr[-2000:],
        "operations": Counter(f"{c['service']}:{c['operation']}" for c in calls),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--quota", type=float, default=20.0)
    parser.add_argument("--limit", choices=("all", "providers"), default="all")
    parser.add_argument("--replicas", default="1,3")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--lease", default="10s")
    parser.add_argument("--bin", default="target/release/rekeyd")
    args = parser.parse_args()
    counts = [int(k) for k in args.replicas.split(",") if k]

    results = {k: [] for k in counts}
    with tempfile.TemporaryDirectory(prefix="rekeyd-replicas-") as work:
        with fleet.Emulator(args.bin, fleet.aws_env(work)) as emulator:
            long_ago = datetime.now(timezone.utc) - timedelta(days=60)
            policy, seed = fleet.mixed_fleet(args.n, emulator.url, now=long_ago)
            policy += (f'\n[coordination]\ndynamodb_table = "{TABLE}"\n'
                       f'lease = "{args.lease}"\n')
            policy_path = os.path.join(work, "policy.toml")
            with open(policy_path, "w") as f:
                f.write(policy)
            for run in range(args.runs):
                for k in counts:
                    r = one_run(args, emulator, policy_path, seed, work, k)
                    results[k].append(r)
                    log(f"run {run + 1}/{args.runs}, {k} replicas: {r['wall']:.1f} s, "
                        f"{r['rate']:.2f} rotations/s, {r['bottleneck']} at "
                        f"{r['utilisation']:.3f} of the quota, {r['throttled_pct']:.2f}% "
                        f"throttled, {r['dynamodb_per_rotation']:.2f} DynamoDB calls per "
                        f"rotation, {r['doubles']} double rotations, "
                        f"{len(r['problems'])} wrong secrets")
                    log(f"calls by operation: {dict(sorted(r['operations'].items()))}")
                    if r["problems"]:
                        log(f"problems: {r['problems'][:5]}; stderr: {r['stderr_tail']}")

    print(f"## Replicas at the quota, {args.n:,} credentials at {args.quota:g} requests/s "
          f"per {'service' if args.limit == 'all' else 'provider'}\n")
    limited = ("IAM, Chime, IVS and Secrets Manager" if args.limit == "all"
               else "IAM, Chime and IVS (not Secrets Manager)")
    print(f"{date.today()}, `python3 benches/replicas.py --n {args.n} --quota {args.quota:g} "
          f"--limit {args.limit} --replicas {args.replicas} --runs {args.runs} "
          f"--lease {args.lease}`, binary "
          f"`{args.bin}`, emulator in its own process on the same machine ({fleet.machine()}). "
          f"Each run seeds {args.n:,} mixed credentials all due, an empty lease table and a "
          f"quota of {args.quota:g} requests/s on {limited}, starts "
          f"the daemons and waits until every secret holds the live value. Utilisation is the "
          f"busiest limited service's served calls per second over the whole run (start and "
          f"initial reads included) divided by the quota.\n")
    print("| replicas | wall time | rotations/s | utilisation of the quota | throttled calls | "
          "DynamoDB calls per rotation | double rotations | secrets checked |")
    print("|---|---|---|---|---|---|---|---|")
    for k, rs in results.items():
        wrong = sum(len(r["problems"]) for r in rs)
        print(f"| {k} | {fleet.spread([r['wall'] for r in rs], ' s', 1)} | "
              f"{fleet.spread([r['rate'] for r in rs], '', 2)} | "
              f"{', '.join(sorted({r['bottleneck'] for r in rs}))}: "
              f"{fleet.spread([r['utilisation'] for r in rs])} | "
              f"{fleet.spread([r['throttled_pct'] for r in rs], '%', 2)} | "
              f"{statistics.median(r['dynamodb_per_rotation'] for r in rs):.2f} | "
              f"{sum(r['doubles'] for r in rs)} | "
              f"{'all correct' if wrong == 0 else f'{wrong} wrong'} |")
    if any(r["problems"] or r["doubles"] for rs in results.values() for r in rs):
        sys.exit(1)


if __name__ == "__main__":
    main()
