#!/usr/bin/env python3
"""Idle daemon at scale: N credentials scheduled, measured from outside.

Starts `rekeyd emulator` (its own process), seeds N Chime bots and, for each,
a secret in rekeyd's format rotated just now (so nothing is due), starts
`rekeyd daemon` with NOTIFY_SOCKET, and reports: time from exec to READY=1,
time until every secret was read, resident memory, CPU and context switches
over an idle window. Usage: benches/idle.py [N] [IDLE_SECONDS] [BINARY]
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
IDLE = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
BINARY = sys.argv[3] if len(sys.argv) > 3 else "target/release/rekeyd"
ACCOUNT = "a0000000-0000-4000-8000-000000000000"


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
    rss_kib = int(status["VmRSS"].split()[0])
    return ticks, switches, rss_kib


def main():
    work = tempfile.mkdtemp(prefix="rekeyd-idle-")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="secret",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", HOME=work,
               STATE_DIRECTORY=os.path.join(work, "state"), RUST_LOG="warn")
    emulator = subprocess.Popen([BINARY, "emulator", "--listen", "127.0.0.1:0"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    daemon = None
    try:
        endpoint = emulator.stdout.readline().strip()
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        bots, secrets, policy = [], [], [
            f'[aws]\nregion = "us-east-1"\nendpoint_url = "{endpoint}"\n',
            '[defaults]\nevery = "30d"\n']
        for i in range(N):
            bot = f"b0000000-0000-4000-8000-{i:012d}"
            bots.append({"account_id": ACCOUNT, "bot_id": bot})
            value = {"kind": "chime_bot", "name": f"bot-{i}", "account_id": ACCOUNT, "bot_id": bot,
                     "security_token": "seeded", "bot_email": None, "user_id": None, "rotated_at": now}
            secrets.append({"name": f"rekeyd/bot-{i}", "secret_string": json.dumps(value)})
            policy.append(f'[[chime_bot]]\nname = "bot-{i}"\naccount_id = "{ACCOUNT}"\nbot_id = "{bot}"\n')
        request = urllib.request.Request(endpoint + "/_emulator/seed",
                                         data=json.dumps({"chime_bots": bots, "secrets": secrets}).encode(),
                                         headers={"content-type": "application/json"})
        urllib.request.urlopen(request, timeout=600).read()
        urllib.request.urlopen(urllib.request.Request(endpoint + "/_emulator/calls", method="DELETE"), timeout=60)
        policy_path = os.path.join(work, "policy.toml")
        with open(policy_path, "w") as f:
            f.write("\n".join(policy))

        notify_path = os.path.join(work, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(120)
        started = time.monotonic()
        daemon = subprocess.Popen([BINARY, "--config", policy_path, "daemon"],
                                  env=dict(env, NOTIFY_SOCKET=notify_path, REKEYD_ALLOW_ROOT="1"),
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "w"))
        while b"READY=1" not in notify.recv(4096):
            pass
        ready = time.monotonic() - started
        # Keep reading notifications, as systemd does.
        import threading
        threading.Thread(target=lambda: [notify.recv(4096) for _ in iter(int, 1)], daemon=True).start()
        # Settled: every secret read once (N GetSecretValue calls).
        while True:
            calls = json.loads(urllib.request.urlopen(endpoint + "/_emulator/calls", timeout=60).read())
            if sum(1 for c in calls if c["operation"] == "GetSecretValue") >= N:
                break
            time.sleep(0.5)
        settled = time.monotonic() - started
        time.sleep(2)
        ticks0, switches0, _ = proc_stats(daemon.pid)
        time.sleep(IDLE)
        ticks1, switches1, rss = proc_stats(daemon.pid)
        hz = os.sysconf("SC_CLK_TCK")
        mutations = sum(1 for c in json.loads(urllib.request.urlopen(endpoint + "/_emulator/calls").read())
                        if c["mutating"])
        print(json.dumps({
            "credentials": N,
            "ready_seconds": round(ready, 3),
            "all_secrets_read_seconds": round(settled, 3),
            "rss_mib": round(rss / 1024, 1),
            "idle_seconds": IDLE,
            "idle_cpu_percent_of_one_core": round(100 * (ticks1 - ticks0) / hz / IDLE, 3),
            "context_switches_per_second": round((switches1 - switches0) / IDLE, 1),
            "mutating_calls": mutations,
        }, indent=2))
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait(timeout=60)
        emulator.terminate()
        emulator.wait(timeout=60)


if __name__ == "__main__":
    main()
