#!/usr/bin/env python3
"""Quotas per account: `rekeyd rotate --all` over one account, then the same
fleet spread over three, against an emulator that throttles each account's
providers at a fixed rate, as AWS's per-account API quotas do.

    flock /tmp/rekeyd-bench.lock python3 benches/accounts.py \\
        [--n 3000] [--runs 1] [--quota 40] [--accounts 3] [--concurrency 32] \\
        [--bin target/release/rekeyd]

Starts `rekeyd emulator` (the --bin binary) in its own process. For each run
and layout (interleaved), resets the emulator, seeds --accounts accounts (each
with a role trusting rekeyd's own account) and a mixed fleet of N credentials
(a third each of chime_bot, iam_service_credential `reset`,
ivs_participant_token, each with its secret in rekeyd's format in the
credential's account), sets a quota of --quota requests/s on each provider
service (chime, iam, ivs-realtime; the emulator keeps one bucket per account
and region) and none on Secrets Manager, and times `rekeyd rotate --all`:

  single  every credential in the first account (`account` and, by default,
          its secret there)
  spread  credential i in account (i div 3) mod --accounts (kinds cycle with
          i: each account gets its share of every kind)

Reports wall time, rotations per second, the spread/single ratio, throttled
provider calls as a share of all provider calls, AssumeRole calls per run,
failed rotations, and checks that every secret was rotated in its account and
holds what the emulator holds as valid. Prints a Markdown section on stdout,
progress on stderr; exits 1 when a rotation failed or a secret is wrong.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402

OWN = "123456789012"
PROVIDERS = ("chime", "iam", "ivs-realtime")
CHIME_ACCOUNT = "a0000000-0000-4000-8000-000000000000"


def log(message):
    print(f"accounts bench: {message}", file=sys.stderr, flush=True)


def account_id(k):
    return f"{k + 1}" * 12


def layout(n, accounts, spread, endpoint, concurrency):
    """Policy text and seed document: credential i in account (i div 3) mod
    `accounts` when `spread` (a share of each kind in each), else all in the
    first."""
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    expires = (now + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = [f'[aws]\nregion = "us-east-1"\nendpoint_url = "{endpoint}"\n',
              f"[daemon]\nconcurrency = {concurrency}\n",
              '[defaults]\nevery = "30d"\njitter = "0s"\n']
    seed = {"accounts": [], "chime_bots": [], "iam_credentials": [], "ivs_stages": [],
            "secrets": []}
    for k in range(accounts):
        policy.append(f'[accounts.acct-{k}]\nrole_arn = "arn:aws:iam::{account_id(k)}:role/rekeyd"\n')
        seed["accounts"].append({"account_id": account_id(k),
                                 "roles": [{"name": "rekeyd", "trust": [OWN]}]})
    for i in range(n):
        # Kinds cycle with i, accounts with i // 3: each account gets a
        # third of every kind.
        k = (i // 3) % accounts if spread else 0
        account = account_id(k)
        kind, name = fleet.KINDS[i % 3], f"cred-{i:05d}"
        where = f'account = "acct-{k}"\n'
        tags = {"rekeyd:credential": name, "rekeyd:kind": kind}
        if kind == "chime_bot":
            bot = f"b0000000-0000-4000-8000-{i:012d}"
            seed["chime_bots"].append({"account": account, "account_id": CHIME_ACCOUNT,
                                       "bot_id": bot, "security_token": f"seeded-{i}"})
            policy.append(f'[[chime_bot]]\nname = "{name}"\n{where}account_id = "{CHIME_ACCOUNT}"\n'
                          f'bot_id = "{bot}"\n')
            value = {"kind": kind, "name": name, "account_id": CHIME_ACCOUNT, "bot_id": bot,
                     "security_token": f"seeded-{i}", "bot_email": None, "user_id": None,
                     "rotated_at": stamp}
        elif kind == "iam_service_credential":
            user, credential = f"user-{i:05d}", f"ACCA{i:017d}"
            seed["iam_credentials"].append({"account": account, "user_name": user,
                                            "credential_id": credential,
                                            "service_name": "codecommit.amazonaws.com"})
            policy.append(f'[[iam_service_credential]]\nname = "{name}"\n{where}'
                          f'user_name = "{user}"\ncredential_id = "{credential}"\n')
            value = {"kind": kind, "name": name, "user_name": user,
                     "service_name": "codecommit.amazonaws.com",
                     "service_user_name": f"{user}-at-{account}",
                     "service_password": f"seeded-{i}", "credential_id": credential,
                     "rotated_at": stamp}
        else:
            stage = f"arn:aws:ivs:us-east-1:{account}:stage/st{i:010d}"
            seed["ivs_stages"].append({"account": account, "arn": stage})
            policy.append(f'[[ivs_participant_token]]\nname = "{name}"\n{where}'
                          f'stage_arn = "{stage}"\nduration = "12h"\nrefresh_before = "1h"\n')
            value = {"kind": kind, "name": name, "stage_arn": stage, "participant_id": f"p{i}",
                     "user_id": None, "token": f"seeded-{i}",
                     "capabilities": ["PUBLISH", "SUBSCRIBE"], "attributes": {},
                     "expiration_time": expires, "rotated_at": stamp}
        seed["secrets"].append({"account": account, "name": f"rekeyd/{name}",
                                "secret_string": json.dumps(value), "tags": tags})
    return "\n".join(policy), seed


def verify(truth, seed):
    """Secrets not rotated in their account, or not holding the live secret."""
    bots = {(b["aws_account_id"], b["bot_id"]): b["security_token"] for b in truth["chime_bots"]}
    creds = {(c["account_id"], c["credential_id"]): c["service_password"]
             for c in truth["iam_credentials"]}
    stages = {s["arn"]: s["tokens"] for s in truth["ivs_stages"]}
    secrets = {(s["account_id"], s["name"]): s for s in truth["secrets"]}
    problems = []
    for seeded in seed["secrets"]:
        account, name = seeded["account"], seeded["name"]
        secret = secrets.get((account, name))
        versions = secret["versions"] if secret else []
        current = next((v for v in versions if "AWSCURRENT" in v["stages"]), None)
        if len(versions) != 2 or current is None:
            problems.append(f"{name} in {account}: {len(versions)} versions")
            continue
        value = json.loads(current["secret_string"])
        kind = value.get("kind")
        if kind == "chime_bot":
            ok = value["security_token"] == bots.get((account, value["bot_id"]))
        elif kind == "iam_service_credential":
            ok = value["service_password"] == creds.get((account, value["credential_id"]))
        else:
            tokens = stages.get(value["stage_arn"], [])
            ok = len(tokens) == 1 and tokens[0]["token"] == value["token"]
        if not ok:
            problems.append(f"{name} in {account}: not the live {kind} secret")
    return problems


def one_run(args, emulator, work, name, spread, env):
    emulator.reset()
    policy, seed = layout(args.n, args.accounts, spread, emulator.url, args.concurrency)
    path = os.path.join(work, f"policy-{name}.toml")
    with open(path, "w") as f:
        f.write(policy)
    emulator.seed(seed)
    emulator._request("/_emulator/quotas", {s: args.quota for s in PROVIDERS}, method="PUT")
    started = time.monotonic()
    result = subprocess.run([args.bin, "--config", path, "-q", "rotate", "--all"], env=env,
                            capture_output=True, text=True, timeout=max(600, 6 * args.n / args.quota))
    wall = time.monotonic() - started
    lines = result.stdout.splitlines()
    calls = emulator.calls()
    provider = [c for c in calls if c["service"] in PROVIDERS]
    throttled = sum(1 for c in provider if c.get("throttled"))
    assume = [c for c in calls if c["operation"] == "AssumeRole"]
    return {
        "wall": wall, "rc": result.returncode,
        "rotated": sum(": rotated " in line for line in lines),
        "failed": sum(": failed " in line for line in lines),
        "problems": verify(emulator.truth(), seed),
        "provider_calls": len(provider), "throttled": throttled,
        "throttled_pct": 100.0 * throttled / max(len(provider), 1),
        "assume_role": len(assume),
        "stderr_tail": result.stderr[-2000:],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--quota", type=float, default=40.0)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--bin", default="target/release/rekeyd")
    args = parser.parse_args()

    layouts = {"single": False, "spread": True}
    results = {name: [] for name in layouts}
    with tempfile.TemporaryDirectory(prefix="rekeyd-accounts-") as work:
        env = fleet.aws_env(work)
        with fleet.Emulator(args.bin, env) as emulator:
            for run in range(args.runs):
                for name, spread in layouts.items():
                    r = one_run(args, emulator, work, name, spread, env)
                    results[name].append(r)
                    log(f"run {run + 1}/{args.runs} {name}: {r['wall']:.1f} s, "
                        f"{args.n / r['wall']:.1f} rotations/s, {r['throttled']} of "
                        f"{r['provider_calls']} provider calls throttled "
                        f"({r['throttled_pct']:.2f}%), {r['assume_role']} AssumeRole, "
                        f"{r['rotated']} rotated, {r['failed']} failed, "
                        f"{len(r['problems'])} wrong secrets, exit {r['rc']}")
                    if r["rc"] != 0 or r["problems"]:
                        log(f"problems: {r['problems'][:5]}; rekeyd stderr: {r['stderr_tail']}")

    single = [args.n / r["wall"] for r in results["single"]]
    spread_rates = [args.n / r["wall"] for r in results["spread"]]
    ratios = [s / o for s, o in zip(spread_rates, single)]
    print(f"## Quotas per account: {args.n:,} rotations over 1 and {args.accounts} accounts "
          f"at {args.quota:g} requests/s per provider\n")
    print(f"{date.today()}, `python3 benches/accounts.py --n {args.n} --runs {args.runs} "
          f"--quota {args.quota:g} --accounts {args.accounts} --concurrency {args.concurrency} "
          f"--bin {args.bin}`, emulator in its own process on the same machine "
          f"({fleet.machine()}). Each run resets the emulator, seeds {args.accounts} accounts "
          f"with a role each and {args.n:,} mixed credentials (a third each of chime_bot, "
          f"iam_service_credential `reset`, ivs_participant_token) with their secrets in the "
          f"credential's account, sets a quota of {args.quota:g} requests/s on chime, iam and "
          f"ivs-realtime (a bucket per account and region; Secrets Manager unthrottled), and runs "
          f"`rekeyd rotate --all` (`[daemon] concurrency` {args.concurrency}, no "
          f"`[aws.rate_limits]`: the adaptive rate per service, account and region). `single`: "
          f"every credential in one account; `spread`: credential i in account (i div 3) mod "
          f"{args.accounts}, a share of every kind in each. Layouts interleaved.\n")
    print("| layout | wall time | rotations/s | throttled provider calls | AssumeRole calls per run "
          "| failed rotations | secrets checked in their accounts |")
    print("|---|---|---|---|---|---|---|")
    for name, rs in results.items():
        wrong = sum(len(r["problems"]) for r in rs)
        print(f"| {name} | {fleet.spread([r['wall'] for r in rs], ' s', 1)} | "
              f"{fleet.spread([args.n / r['wall'] for r in rs], '', 1)} | "
              f"{fleet.spread([r['throttled_pct'] for r in rs], '%', 2)} | "
              f"{', '.join(str(r['assume_role']) for r in rs)} | "
              f"{sum(r['failed'] for r in rs)} in {len(rs)} runs | "
              f"{'all correct' if wrong == 0 else f'{wrong} wrong'} |")
    print(f"\nspread / single: {fleet.spread(ratios, 'x', 2)}.")

    bad = [(name, r) for name, rs in results.items() for r in rs
           if r["rc"] != 0 or r["failed"] or r["problems"] or r["rotated"] != args.n]
    if bad:
        for name, r in bad:
            log(f"FAILED {name}: exit {r['rc']}, {r['rotated']} rotated, {r['failed']} failed, "
                f"{len(r['problems'])} wrong secrets")
        sys.exit(1)


if __name__ == "__main__":
    main()
