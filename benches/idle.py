#!/usr/bin/env python3
"""Idle daemon at scale: N mixed credentials scheduled, measured from outside.

    python3 benches/idle.py [--n 10000] [--idle 60] [--runs 3] [--bin target/release/rekeyd]

Starts `rekeyd emulator` (its own process), seeds N credentials, a third of
each kind (Chime bots on daily cron times, IAM credentials every 7-30 days,
IVS tokens refreshed an hour before their 12 h expiry), each with a secret
written just now so nothing is due, starts `rekeyd daemon` with NOTIFY_SOCKET
as systemd would, and measures: exec to READY=1, time until every secret was
read once (by GetSecretValue or BatchGetSecretValue), resident memory, CPU
and context switches over the idle window, and that no mutating call was
made. Prints a Markdown section (medians and
spread over the runs); progress on stderr. Build first: cargo build --release.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    switches = int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
    return ticks, switches, int(status["VmRSS"].split()[0]), int(status["Threads"])


def secrets_read(calls):
    """Secrets the daemon read: one per answered GetSecretValue, each id of an
    answered BatchGetSecretValue (the call log names them, comma-separated)."""
    read = 0
    for call in calls:
        if call.get("status") != 200:
            continue
        if call["operation"] == "GetSecretValue":
            read += 1
        elif call["operation"] == "BatchGetSecretValue":
            read += len((call.get("resource") or "").split(","))
    return read


def one_run(args, work):
    env = fleet.aws_env(work)
    with fleet.Emulator(args.bin, env) as emulator:
        policy, seed = fleet.mixed_fleet(args.n, emulator.url)
        emulator.seed(seed)
        emulator.clear_calls()
        policy_path = os.path.join(work, "policy.toml")
        with open(policy_path, "w") as f:
            f.write(policy)

        notify_path = os.path.join(work, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(120)
        started = time.monotonic()
        daemon = subprocess.Popen([args.bin, "--config", policy_path, "daemon"],
                                  env=dict(env, NOTIFY_SOCKET=notify_path, REKEYD_ALLOW_ROOT="1"),
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(work, "daemon.log"), "w"))
        try:
            while b"READY=1" not in notify.recv(4096):
                pass
            ready = time.monotonic() - started
            notify.settimeout(None)
            # Keep reading notifications, as systemd does.
            threading.Thread(target=lambda: [notify.recv(4096) for _ in iter(int, 1)],
                             daemon=True).start()
            deadline = time.monotonic() + 600
            while secrets_read(emulator.calls()) < args.n:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise RuntimeError(f"the daemon did not read every secret; see {work}/daemon.log")
                time.sleep(0.5)
            settled = time.monotonic() - started
            time.sleep(2)
            ticks0, switches0, _, _ = proc_stats(daemon.pid)
            time.sleep(args.idle)
            ticks1, switches1, rss_kib, threads = proc_stats(daemon.pid)
            mutations = sum(1 for c in emulator.calls() if c["mutating"])
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            notify.close()
    hz = os.sysconf("SC_CLK_TCK")
    return {
        "ready": ready,
        "settled": settled,
        "rss_mib": rss_kib / 1024,
        "cpu_percent": 100 * (ticks1 - ticks0) / hz / args.idle,
        "wakeups": (switches1 - switches0) / args.idle,
        "threads": threads,
        "mutations": mutations,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0, help="idle window in seconds")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin", default="target/release/rekeyd")
    args = parser.parse_args()

    runs = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="rekeyd-idle-") as work:
            result = one_run(args, work)
        print(f"idle bench: run {run + 1}/{args.runs}: {result}", file=sys.stderr)
        runs.append(result)

    def col(key):
        return [r[key] for r in runs]

    print(f"## Idle daemon, {args.n:,} credentials\n")
    print(f"{date.today()}, `python3 benches/idle.py --n {args.n} --idle {args.idle:g} "
          f"--runs {args.runs}`, binary `{args.bin}`, emulator in its own process on the same "
          f"machine ({fleet.machine()}).\n")
    print("| figure | value | target (issue 6) |")
    print("|---|---|---|")
    print(f"| exec to `READY=1` | {fleet.spread(col('ready'), ' s')} | < 1 s |")
    print(f"| every secret read once ({args.n:,} secrets) | {fleet.spread(col('settled'), ' s', 1)} | |")
    print(f"| resident memory after settling | {fleet.spread(col('rss_mib'), ' MiB', 1)} | <= 40 MiB |")
    print(f"| CPU while idle, {args.idle:g} s | {fleet.spread(col('cpu_percent'), '% of one core', 2)} | < 0.5% |")
    print(f"| context switches while idle, per second | {fleet.spread(col('wakeups'), '', 1)} | |")
    print(f"| threads | {fleet.spread(col('threads'), '', 0)} | |")
    print(f"| mutating calls | {sum(col('mutations'))} | 0 |")


if __name__ == "__main__":
    main()
