"""Shared by the benchmark scripts: a mixed fleet of credentials (policy and
emulator seed), the bundled emulator in its own process, a clean AWS
environment, the machine line and median/spread summaries.

Not a benchmark itself; `import fleet` from a script in benches/.
"""

import json
import os
import platform
import statistics
import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone

ACCOUNT = "a0000000-0000-4000-8000-000000000000"
STAGE_PREFIX = "arn:aws:ivs:us-east-1:123456789012:stage/"
KINDS = ("chime_bot", "iam_service_credential", "ivs_participant_token")


def aws_env(work, **extra):
    """The environment for every process a benchmark starts: fake static
    credentials, no profile files, no instance metadata, state in `work`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "RUST_LOG"}
    env.update(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="bench-secret-key",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", HOME=work,
               AWS_CONFIG_FILE=os.path.join(work, "aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(work, "aws-credentials"),
               STATE_DIRECTORY=os.path.join(work, "state"), RUST_LOG="warn")
    env.update(extra)
    return env


def machine():
    """`2 cores, Intel(R) Xeon(R) Processor, Linux 6.x`: the line every section carries."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {model}, Linux {platform.release()}"


def spread(values, unit="", digits=3):
    """`median 1.234 s (min 1.200, max 1.300, 5 runs)`."""
    fmt = f"{{:.{digits}f}}"
    if len(values) == 1:
        return f"{fmt.format(values[0])}{unit} (1 run)"
    return (f"median {fmt.format(statistics.median(values))}{unit} "
            f"(min {fmt.format(min(values))}, max {fmt.format(max(values))}, {len(values)} runs)")


class Emulator:
    """`rekeyd emulator --listen 127.0.0.1:0` in its own process."""

    def __init__(self, binary, env):
        self.process = subprocess.Popen([binary, "emulator", "--listen", "127.0.0.1:0"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the emulator did not start (printed {self.url!r})")

    def _request(self, path, body=None, method=None, timeout=600):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")

    def seed(self, doc):
        return self._request("/_emulator/seed", doc)

    def reset(self):
        self._request("/_emulator/reset", {}, method="POST")

    def calls(self):
        return self._request("/_emulator/calls")

    def clear_calls(self):
        self._request("/_emulator/calls", method="DELETE")

    def truth(self):
        return self._request("/_emulator/truth")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()


def _cron_avoiding_the_next_hours(i, now):
    """A daily cron time at least three hours away, so a benchmark's window
    sees no scheduled rotation; spread over many distinct fire times."""
    hour = (now.hour + 3 + i % 18) % 24
    return f"{i % 60} {(i // 60) % 60} {hour} * * *"


def mixed_fleet(n, endpoint, stored=True, now=None):
    """Policy text and seed document for `n` credentials, a third of each
    kind: Chime bots on cron schedules, IAM credentials on intervals, IVS
    tokens refreshed before expiry. With `stored`, each has a secret in
    rekeyd's format written `now`, so nothing is due."""
    now = now or datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    expires = (now + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = [f'[aws]\nregion = "us-east-1"\nendpoint_url = "{endpoint}"\n',
              '[defaults]\nevery = "30d"\njitter = "0s"\n']
    seed = {"chime_bots": [], "iam_credentials": [], "ivs_stages": [], "secrets": []}
    for i in range(n):
        kind, name = KINDS[i % 3], f"cred-{i:05d}"
        tags = {"rekeyd:credential": name, "rekeyd:kind": kind}
        if kind == "chime_bot":
            bot = f"b0000000-0000-4000-8000-{i:012d}"
            # The stored token is the bot's, or the audit calls it drift.
            seed["chime_bots"].append({"account_id": ACCOUNT, "bot_id": bot,
                                       "security_token": f"seeded-{i}"})
            policy.append(f'[[chime_bot]]\nname = "{name}"\naccount_id = "{ACCOUNT}"\n'
                          f'bot_id = "{bot}"\nschedule = "{_cron_avoiding_the_next_hours(i, now)}"\n')
            value = {"kind": kind, "name": name, "account_id": ACCOUNT, "bot_id": bot,
                     "security_token": f"seeded-{i}", "bot_email": None, "user_id": None,
                     "rotated_at": stamp}
        elif kind == "iam_service_credential":
            user, credential = f"user-{i:05d}", f"ACCA{i:017d}"
            seed["iam_credentials"].append({"user_name": user, "credential_id": credential,
                                            "service_name": "codecommit.amazonaws.com"})
            policy.append(f'[[iam_service_credential]]\nname = "{name}"\nuser_name = "{user}"\n'
                          f'credential_id = "{credential}"\n'
                          f'every = "{7 + i % 24}d"\n')
            value = {"kind": kind, "name": name, "user_name": user,
                     "service_name": "codecommit.amazonaws.com",
                     "service_user_name": f"{user}-at-123456789012", "service_password": f"seeded-{i}",
                     "credential_id": credential, "rotated_at": stamp}
        else:
            stage = f"{STAGE_PREFIX}st{i:010d}"
            seed["ivs_stages"].append({"arn": stage})
            policy.append(f'[[ivs_participant_token]]\nname = "{name}"\nstage_arn = "{stage}"\n'
                          f'duration = "12h"\nrefresh_before = "1h"\nuser_id = "u{i}"\n')
            value = {"kind": kind, "name": name, "stage_arn": stage, "participant_id": f"p{i}",
                     "user_id": f"u{i}", "token": f"seeded-{i}",
                     "capabilities": ["PUBLISH", "SUBSCRIBE"], "attributes": {},
                     "expiration_time": expires, "rotated_at": stamp}
        if stored:
            seed["secrets"].append({"name": f"rekeyd/{name}", "secret_string": json.dumps(value),
                                    "tags": tags})
    return "\n".join(policy), seed
