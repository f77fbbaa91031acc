#!/usr/bin/env python3
"""One-shot rotation throughput: `rekeyd rotate --all` against the peers a
user would pick instead, on the same emulator, in the same run.

    flock /tmp/rekeyd-bench.lock python3 benches/throughput.py \\
        [--n 1000 10000] [--runs 5 3] [--cli-n 150] [--cli-runs 2] [--concurrency 8] \\
        [--contenders rekeyd,boto3,cli] [--missing-secrets] [--bin target/release/rekeyd]
        [--emulator-bin PATH] [--no-build]

Builds the release binary (unless --no-build), starts `rekeyd emulator` in its
own process, and for each N seeds benches/fleet.py's mixed fleet (a third
each of chime_bot, iam_service_credential with strategy reset, and
ivs_participant_token; every secret already exists in rekeyd's format, as in
a fleet that has been rotated before; --missing-secrets starts without them).
Then, runs interleaved, each contender from a freshly reset and reseeded
emulator:

  rekeyd  `rekeyd rotate --all` (`[daemon] concurrency` = --concurrency)
  boto3   benches/peers/rotate_boto3.py, a ThreadPoolExecutor of the same size
  cli     benches/peers/rotate-cli.sh, a bash loop of `aws` CLI calls, on a
          subset of --cli-n credentials only (each `aws` call costs ~0.4 s)

After every run, each credential's secret is checked against what the
emulator holds as valid (/_emulator/truth): the current version is new, in
rekeyd's format, and holds the provider's one live secret. A contender that
did less fails the benchmark. Prints a Markdown section (rotations per
second: median and spread; CPU used; calls per rotation; ratios) on stdout,
progress on stderr. Wrap it in flock so that benchmarks never overlap.
"""

import argparse
import collections
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402

BENCHES = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCHES)
TIMEOUT = 1800

# SPEC.md, "Secret value": the fields every rotation must write.
FIELDS = {
    "chime_bot": {"kind", "name", "account_id", "bot_id", "security_token", "bot_email",
                  "user_id", "rotated_at"},
    "iam_service_credential": {"kind", "name", "user_name", "service_name", "service_user_name",
                               "service_password", "credential_id", "rotated_at"},
    "ivs_participant_token": {"kind", "name", "stage_arn", "participant_id", "user_id", "token",
                              "capabilities", "attributes", "expiration_time", "rotated_at"},
}


def log(message):
    print(f"throughput bench: {message}", file=sys.stderr, flush=True)


def fleet_of(n, endpoint, concurrency, missing_secrets):
    """Policy text, seed document and the credentials (the peers' TSV rows)."""
    policy, seed = fleet.mixed_fleet(n, endpoint)
    if concurrency != 8:
        policy += f"\n[daemon]\nconcurrency = {concurrency}\n"
    rows = []
    for secret in seed["secrets"]:
        v = json.loads(secret["secret_string"])
        ids = {"chime_bot": (v.get("account_id"), v.get("bot_id"), ""),
               "iam_service_credential": (v.get("user_name"), v.get("credential_id"), ""),
               "ivs_participant_token": (v.get("stage_arn"), v.get("user_id"), "720")}[v["kind"]]
        rows.append((v["kind"], v["name"], secret["name"], *ids))
    if missing_secrets:
        seed["secrets"] = []
    return policy, seed, rows


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def verify(emulator, rows, seed):
    """Problems with the stored secrets, compared with the emulator's truth."""
    truth = emulator.truth()
    bots = {(b["account_id"], b["bot_id"]): b for b in truth["chime_bots"]}
    creds = {c["credential_id"]: c for c in truth["iam_credentials"]}
    stages = {s["arn"]: s for s in truth["ivs_stages"]}
    secrets = {s["name"]: s for s in truth["secrets"]}
    seeded_versions = collections.Counter(s["name"] for s in seed["secrets"])
    problems = []
    for kind, name, secret_name, a, b, _ in rows:
        secret = secrets.get(secret_name)
        current = secret and next((v for v in secret["versions"] if "AWSCURRENT" in v["stages"]), None)
        if not current:
            problems.append(f"{name}: no current version of {secret_name}")
            continue
        if len(secret["versions"]) != seeded_versions[secret_name] + 1:
            problems.append(f"{name}: {len(secret['versions']) - seeded_versions[secret_name]} new versions, not 1")
        try:
            value = json.loads(current["secret_string"])
        except (TypeError, ValueError):
            problems.append(f"{name}: current value is not JSON")
            continue
        if not FIELDS[kind] <= value.keys() or value["kind"] != kind or value["name"] != name:
            problems.append(f"{name}: not in rekeyd's format (fields {sorted(value)})")
            continue
        if kind == "chime_bot":
            live = bots[(a, b)]["security_token"]
            ok = value["security_token"] == live
        elif kind == "iam_service_credential":
            live = creds[b]
            ok = (value["service_password"] == live["service_password"]
                  and value["service_user_name"] == live["service_user_name"])
        else:
            tokens = stages[a]["tokens"]
            ok = (len(tokens) == 1 and value["token"] == tokens[0]["token"]
                  and value["participant_id"] == tokens[0]["participant_id"])
        if not ok:
            problems.append(f"{name}: the stored secret is not the one {kind} holds as valid")
    return problems


class Bench:
    def __init__(self, args, work, emulator):
        self.args, self.work, self.emulator = args, work, emulator
        # botocore (boto3 and the aws CLI v1) reads AWS_DEFAULT_REGION, not AWS_REGION.
        self.env = fleet.aws_env(work, AWS_ENDPOINT_URL=emulator.url, AWS_DEFAULT_REGION="us-east-1")
        self.runs = 0

    def prepare(self, seed):
        self.emulator.reset()
        self.emulator.seed(seed)
        self.emulator.clear_calls()

    def command(self, contender, n, policy_path, rows_path):
        if contender == "rekeyd":
            return shlex.split(self.args.wrap) + [self.args.bin, "--config", policy_path, "-q",
                                                  "rotate", "--all"]
        if contender == "boto3":
            return [sys.executable, os.path.join(BENCHES, "peers", "rotate_boto3.py"), rows_path,
                    "--concurrency", str(self.args.concurrency)]
        return ["bash", os.path.join(BENCHES, "peers", "rotate-cli.sh"), rows_path]

    def run(self, contender, policy, seed, rows):
        """One timed, verified run of `contender` over `rows`."""
        self.runs += 1
        run_dir = os.path.join(self.work, f"run-{self.runs}")
        os.makedirs(run_dir)
        policy_path = os.path.join(run_dir, "policy.toml")
        with open(policy_path, "w") as f:
            f.write(policy)
        rows_path = os.path.join(run_dir, "credentials.tsv")
        with open(rows_path, "w") as f:
            f.writelines("\t".join(row) + "\n" for row in rows)
        self.prepare(seed)
        env = dict(self.env, STATE_DIRECTORY=os.path.join(run_dir, "state"))
        command = self.command(contender, len(rows), policy_path, rows_path)
        emulator_cpu, client_cpu = cpu_seconds(self.emulator.process.pid), children_cpu()
        started = time.monotonic()
        with open(os.path.join(run_dir, "stdout"), "w") as out, \
                open(os.path.join(run_dir, "stderr"), "w") as err:
            code = subprocess.run(command, env=env, stdout=out, stderr=err, cwd=run_dir,
                                  timeout=TIMEOUT).returncode
        wall = time.monotonic() - started
        emulator_cpu = cpu_seconds(self.emulator.process.pid) - emulator_cpu
        client_cpu = children_cpu() - client_cpu
        with open(os.path.join(run_dir, "stdout")) as f:
            rotated = sum(": rotated" in line for line in f)
        if code != 0 or rotated != len(rows):
            tails = []
            for stream in ("stdout", "stderr"):
                with open(os.path.join(run_dir, stream)) as f:
                    tails.append(f"{stream}: " + "".join(f.readlines()[-5:]))
            raise RuntimeError(f"{contender}: exit {code}, {rotated} of {len(rows)} rotated\n"
                               + "\n".join(tails))
        calls = collections.Counter(c["operation"] for c in self.emulator.calls())
        problems = verify(self.emulator, rows, seed)
        if problems:
            raise RuntimeError(f"{contender}: {len(problems)} wrong secrets, e.g. {problems[:5]}")
        shutil.rmtree(run_dir)
        result = {"wall": wall, "rate": len(rows) / wall, "client_cpu": client_cpu,
                  "emulator_cpu": emulator_cpu, "calls": calls}
        log(f"{contender} n={len(rows)}: {wall:.3f} s, {result['rate']:.1f}/s, client CPU "
            f"{client_cpu:.2f} s, emulator CPU {emulator_cpu:.2f} s, verified")
        return result


def calls_per_rotation(calls, n):
    total = sum(calls.values())
    parts = ", ".join(f"{op} {count / n:.2f}" for op, count in sorted(calls.items()))
    return f"{total / n:.2f} ({parts})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10_000],
                        help="fleet sizes for rekeyd and boto3")
    parser.add_argument("--runs", type=int, nargs="+", default=[5, 3],
                        help="runs per fleet size (the last repeats)")
    parser.add_argument("--cli-n", type=int, default=150, help="the CLI loop's subset")
    parser.add_argument("--cli-runs", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8,
                        help="rekeyd's [daemon] concurrency and boto3's thread pool")
    parser.add_argument("--contenders", default="rekeyd,boto3,cli")
    parser.add_argument("--missing-secrets", action="store_true",
                        help="start with no secrets (first rotation: CreateSecret)")
    parser.add_argument("--bin", default=os.path.join(REPO, "target/release/rekeyd"))
    parser.add_argument("--emulator-bin", help="the emulator's binary (default: --bin)")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--wrap", default="",
                        help="a command rekeyd runs under, e.g. 'perf record -g -o /tmp/p.data --'")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.emulator_bin = os.path.abspath(args.emulator_bin or args.bin)
    contenders = [c for c in args.contenders.split(",") if c]
    if not set(contenders) <= {"rekeyd", "boto3", "cli"}:
        parser.error("--contenders: rekeyd, boto3, cli")
    runs_for = {n: args.runs[min(i, len(args.runs) - 1)] for i, n in enumerate(args.n)}

    if not args.no_build:
        log("cargo build --release")
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True,
                       stdout=sys.stderr, timeout=3600)

    results = collections.defaultdict(list)  # (contender, n) -> runs
    with tempfile.TemporaryDirectory(prefix="rekeyd-throughput-") as work:
        with fleet.Emulator(args.emulator_bin, fleet.aws_env(work)) as emulator:
            bench = Bench(args, work, emulator)
            for n in args.n:
                policy, seed, rows = fleet_of(n, emulator.url, args.concurrency, args.missing_secrets)
                for run in range(runs_for[n]):
                    for contender in (c for c in contenders if c != "cli"):
                        log(f"n={n} run {run + 1}/{runs_for[n]}: {contender}")
                        results[(contender, n)].append(bench.run(contender, policy, seed, rows))
            if "cli" in contenders:
                policy, seed, rows = fleet_of(args.cli_n, emulator.url, args.concurrency,
                                              args.missing_secrets)
                for run in range(args.cli_runs):
                    log(f"n={args.cli_n} run {run + 1}/{args.cli_runs}: cli")
                    results[("cli", args.cli_n)].append(bench.run("cli", policy, seed, rows))

    report(args, contenders, results)


def report(args, contenders, results):
    command = " ".join(["python3 benches/throughput.py", "--n", *map(str, args.n), "--runs",
                        *map(str, args.runs), "--cli-n", str(args.cli_n), "--cli-runs",
                        str(args.cli_runs), "--concurrency", str(args.concurrency)]
                       + (["--contenders", args.contenders] if args.contenders != "rekeyd,boto3,cli" else [])
                       + (["--missing-secrets"] if args.missing_secrets else []))
    sizes = " and ".join(f"{n:,}" for n in args.n)
    print(f"## One-shot rotation throughput, {sizes} credentials\n")
    print(f"{date.today()}, `{command}`, binary `{os.path.relpath(args.bin, REPO)}`, emulator in "
          f"its own process on the same machine ({fleet.machine()}). Mixed fleet: a third each "
          f"of chime_bot, iam_service_credential (strategy reset) and ivs_participant_token, "
          + ("no secret stored yet (every rotation creates one). "
             if args.missing_secrets else
             "every secret already stored in rekeyd's format (a fleet rotated before). ")
          + f"Concurrency {args.concurrency} for rekeyd (`[daemon] concurrency`) and boto3 "
          f"(`ThreadPoolExecutor`); the aws CLI loop is sequential and runs on "
          f"{args.cli_n} credentials only. Each run starts from a reset, reseeded emulator, "
          f"and every stored secret is checked against the emulator's truth afterwards. "
          f"Wall time is the contender's whole process (start-up included).\n")
    print("| contender | credentials | rotations/s | wall time | client CPU | emulator CPU "
          "| calls per rotation |")
    print("|---|---|---|---|---|---|---|")
    names = {"rekeyd": "`rekeyd rotate --all`", "boto3": "boto3, `ThreadPoolExecutor`",
             "cli": "bash loop of `aws` CLI calls"}
    for (contender, n), runs in sorted(results.items(), key=lambda kv: (kv[0][0] == "cli", kv[0][1], contenders.index(kv[0][0]))):
        col = lambda key: [r[key] for r in runs]  # noqa: E731
        print(f"| {names[contender]} | {n:,} | {fleet.spread(col('rate'), '', 1)} "
              f"| {fleet.spread(col('wall'), ' s', 2)} | {fleet.spread(col('client_cpu'), ' s', 2)} "
              f"| {fleet.spread(col('emulator_cpu'), ' s', 2)} "
              f"| {calls_per_rotation(runs[0]['calls'], n)} |")

    def rate(contender, n):
        runs = results.get((contender, n))
        return runs and statistics.median(r["rate"] for r in runs)

    ratios = []
    for n in args.n:
        if rate("rekeyd", n) and rate("boto3", n):
            ratios.append(f"rekeyd/boto3 at {n:,}: **{rate('rekeyd', n) / rate('boto3', n):.1f}x** (target 5x)")
        if rate("rekeyd", n) and rate("cli", args.cli_n):
            ratios.append(f"rekeyd at {n:,} / CLI at {args.cli_n}: "
                          f"**{rate('rekeyd', n) / rate('cli', args.cli_n):.0f}x** (target 100x)")
    if ratios:
        print("\nRatios of median rates: " + "; ".join(ratios) + ".")


if __name__ == "__main__":
    main()
