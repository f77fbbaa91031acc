#!/usr/bin/env python3
"""Quota utilisation: `rekeyd rotate --all` against an emulator that throttles
every service at a fixed rate, as AWS's per-account API quotas do.

    flock /tmp/rekeyd-bench.lock python3 benches/quota.py \\
        [--n 10000] [--runs 2] [--quota 50] [--modes adaptive,ceiling] \\
        [--max-throttled-pct 100] [--bin target/release/rekeyd]

Starts `rekeyd emulator` (the --bin binary; build first: cargo build --release)
in its own process. For each run and mode (runs interleaved), resets the
emulator, seeds benches/fleet.py's mixed fleet of N credentials (a third each
of chime_bot, iam_service_credential with strategy reset, and
ivs_participant_token, each with its secret already in rekeyd's format), sets a
quota of --quota requests/s (burst of the same size) on each of the four
services, and times `rekeyd rotate --all` (`[daemon] concurrency` 8):

  adaptive  no `[aws.rate_limits]`: rekeyd adapts its sending rate to the
            throttling it meets
  ceiling   `[aws.rate_limits]` = the quota on all four services

Reports wall time, each service's served (not throttled) calls per second as a
fraction of the quota (the bottleneck is the busiest service, Secrets
Manager), throttled calls as a share of all calls, failed rotations, and
checks every stored secret against what the emulator holds as valid
(/_emulator/truth). Prints a Markdown section on stdout, progress on stderr.
Exits 1 when a rotation failed, a stored secret is wrong, or (with
--max-throttled-pct) a run's throttled share exceeds the bound.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402

SERVICES = ("iam", "chime", "ivs-realtime", "secretsmanager")
POLICY_NAMES = {"iam": "iam", "chime": "chime", "ivs-realtime": "ivs_realtime",
                "secretsmanager": "secretsmanager"}
MODES = {
    "adaptive": "no `[aws.rate_limits]` (adaptive rate)",
    "ceiling": "`[aws.rate_limits]` = the quota",
}


def log(message):
    print(f"quota bench: {message}", file=sys.stderr, flush=True)


def verify(truth, seed):
    """Credentials whose stored secret is not the one the emulator holds as valid."""
    bots = {(b["account_id"], b["bot_id"]): b["security_token"] for b in truth["chime_bots"]}
    creds = {c["credential_id"]: c["service_password"] for c in truth["iam_credentials"]}
    stages = {s["arn"]: s["tokens"] for s in truth["ivs_stages"]}
    secrets = {s["name"]: s for s in truth["secrets"]}
    problems = []
    for seeded in seed["secrets"]:
        name = seeded["name"]
        versions = secrets[name]["versions"]
        current = next((v for v in versions if "AWSCURRENT" in v["stages"]), None)
        if len(versions) != 2 or current is None:
            problems.append(f"{name}: {len(versions)} versions, current {current is not None}")
            continue
        value = json.loads(current["secret_string"])
        kind = value.get("kind")
        if kind == "chime_bot":
            ok = value["security_token"] == bots[(value["account_id"], value["bot_id"])]
        elif kind == "iam_service_credential":
            ok = value["service_password"] == creds[value["credential_id"]]
        elif kind == "ivs_participant_token":
            tokens = stages[value["stage_arn"]]
            ok = len(tokens) == 1 and tokens[0]["token"] == value["token"]
        else:
            ok = False
        if not ok:
            problems.append(f"{name}: the stored {kind} secret is not the live one")
    return problems


def one_run(args, emulator, policy_path, seed, env):
    emulator.reset()
    emulator.seed(seed)
    emulator._request("/_emulator/quotas", {s: args.quota for s in SERVICES}, method="PUT")
    command = [args.bin, "--config", policy_path, "-q", "rotate", "--all"]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True,
                            timeout=max(600, 6 * args.n / args.quota))
    wall = time.monotonic() - started
    lines = result.stdout.splitlines()
    rotated = sum(": rotated " in line for line in lines)
    failed = sum(": failed " in line for line in lines)
    summary = emulator._request("/_emulator/calls/summary")
    problems = verify(emulator.truth(), seed)
    calls = sum(s["calls"] for s in summary.values())
    throttled = sum(s["throttled"] for s in summary.values())
    served = {svc: s["calls"] - s["throttled"] for svc, s in summary.items()}
    bottleneck = max(served, key=served.get)
    return {
        "wall": wall, "rc": result.returncode, "rotated": rotated, "failed": failed,
        "problems": problems, "calls": calls, "throttled": throttled,
        "throttled_pct": 100.0 * throttled / max(calls, 1),
        "bottleneck": bottleneck,
        "utilisation": served[bottleneck] / wall / args.quota,
        "per_service": {svc: (summary[svc]["calls"], summary[svc]["throttled"]) for svc in summary},
        "stderr_tail": result.stderr[-2000:],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--quota", type=float, default=50.0)
    parser.add_argument("--modes", default="adaptive,ceiling")
    parser.add_argument("--max-throttled-pct", type=float, default=100.0)
    parser.add_argument("--bin", default="target/release/rekeyd")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        parser.error(f"--modes takes a list of {', '.join(MODES)}")

    results = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="rekeyd-quota-") as work:
        env = fleet.aws_env(work)
        with fleet.Emulator(args.bin, env) as emulator:
            policy, seed = fleet.mixed_fleet(args.n, emulator.url)
            paths = {}
            for mode in modes:
                text = policy
                if mode == "ceiling":
                    text += "\n[aws.rate_limits]\n" + "".join(
                        f"{POLICY_NAMES[s]} = {args.quota}\n" for s in SERVICES)
                paths[mode] = os.path.join(work, f"policy-{mode}.toml")
                with open(paths[mode], "w") as f:
                    f.write(text)
            for run in range(args.runs):
                for mode in modes:
                    r = one_run(args, emulator, paths[mode], seed, env)
                    results[mode].append(r)
                    log(f"run {run + 1}/{args.runs} {mode}: {r['wall']:.1f} s, "
                        f"{r['bottleneck']} at {r['utilisation']:.3f} of the quota, "
                        f"{r['throttled']} of {r['calls']} calls throttled "
                        f"({r['throttled_pct']:.2f}%), {r['rotated']} rotated, {r['failed']} failed, "
                        f"{len(r['problems'])} wrong secrets, exit {r['rc']}; per service "
                        f"(calls, throttled): {r['per_service']}")
                    if r["rc"] != 0 or r["problems"]:
                        log(f"problems: {r['problems'][:5]}; rekeyd stderr: {r['stderr_tail']}")

    runs = sum(len(rs) for rs in results.values())
    print(f"## Quota utilisation, {args.n:,} rotations at {args.quota:g} requests/s per service\n")
    print(f"{date.today()}, `python3 benches/quota.py --n {args.n} --runs {args.runs} "
          f"--quota {args.quota:g}`, binary `{args.bin}`, emulator in its own process on the same "
          f"machine ({fleet.machine()}). Each run resets the emulator, seeds {args.n:,} mixed "
          f"credentials (a third each of chime_bot, iam_service_credential `reset`, "
          f"ivs_participant_token, each with its secret), sets a quota of {args.quota:g} "
          f"requests/s (burst {args.quota:g}) on each of the four services, and runs `rekeyd "
          f"rotate --all` (`[daemon] concurrency` 8); modes interleaved, {runs} runs in all. "
          f"Utilisation is the busiest service's served (not throttled) calls per second over "
          f"the whole run, process start included, divided by the quota.\n")
    print("| mode | wall time | utilisation of the quota | throttled calls | failed rotations | "
          "secrets checked against the emulator |")
    print("|---|---|---|---|---|---|")
    for mode, rs in results.items():
        bottlenecks = sorted({r["bottleneck"] for r in rs})
        wrong = sum(len(r["problems"]) for r in rs)
        print(f"| {MODES[mode]} | {fleet.spread([r['wall'] for r in rs], ' s', 1)} | "
              f"{', '.join(bottlenecks)}: {fleet.spread([r['utilisation'] for r in rs])} | "
              f"{fleet.spread([r['throttled_pct'] for r in rs], '%', 2)} of all calls "
              f"(median {statistics.median(r['throttled'] for r in rs):g} of "
              f"{statistics.median(r['calls'] for r in rs):g}) | "
              f"{sum(r['failed'] for r in rs)} in {len(rs)} runs | "
              f"{'all correct' if wrong == 0 else f'{wrong} wrong'} |")
    print()
    last = {mode: rs[-1] for mode, rs in results.items()}
    print("Calls per service in the last run of each mode (served + throttled):\n")
    print("| mode | " + " | ".join(SERVICES) + " |")
    print("|---|" + "---|" * len(SERVICES))
    for mode, r in last.items():
        cells = []
        for svc in SERVICES:
            calls, throttled = r["per_service"].get(svc, (0, 0))
            cells.append(f"{calls - throttled} + {throttled}")
        print(f"| {mode} | " + " | ".join(cells) + " |")

    bad = [(mode, r) for mode, rs in results.items() for r in rs
           if r["rc"] != 0 or r["failed"] or r["problems"] or r["rotated"] != args.n
           or r["throttled_pct"] > args.max_throttled_pct]
    if bad:
        for mode, r in bad:
            log(f"FAILED {mode}: exit {r['rc']}, {r['rotated']} rotated, {r['failed']} failed, "
                f"{len(r['problems'])} wrong secrets, {r['throttled_pct']:.2f}% throttled")
        sys.exit(1)


if __name__ == "__main__":
    main()
