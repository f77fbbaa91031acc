#!/usr/bin/env python3
"""The scripter's rotation: boto3 with a thread pool, the throughput
benchmark's fast peer.

    python3 benches/peers/rotate_boto3.py CREDENTIALS.tsv [--concurrency 8]

CREDENTIALS.tsv as for rotate-cli.sh (tab-separated KIND NAME SECRET ARG1
ARG2 ARG3). Per credential, on a ThreadPoolExecutor of `--concurrency`
workers (rekeyd's `[daemon] concurrency`, default 8): the provider call, the
secret JSON in rekeyd's format (SPEC.md), then PutSecretValue (CreateSecret,
tagged, when the secret is missing). One client per service, shared by the
threads (boto3 clients are thread-safe), with a connection pool as large as
the thread pool and botocore's standard retries. Endpoint, region and
credentials come from the usual AWS_* variables. Prints `NAME: rotated` or
`NAME: failed: ...` per credential; exits 1 if any failed.
"""

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone

import boto3
from botocore.config import Config


def utc(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Rotator:
    def __init__(self, concurrency):
        config = Config(max_pool_connections=concurrency, retries={"mode": "standard"})
        self.config = config
        self.chime = boto3.client("chime", region_name="us-east-1", config=config)
        self.iam = boto3.client("iam", config=config)
        self.secrets = boto3.client("secretsmanager", config=config)
        self.ivs = {}  # by region: each stage ARN names its own

    def ivs_client(self, stage_arn):
        region = stage_arn.split(":")[3]
        if region not in self.ivs:
            self.ivs[region] = boto3.client("ivs-realtime", region_name=region, config=self.config)
        return self.ivs[region]

    def secret_value(self, kind, name, a, b, c):
        now = utc(datetime.now(timezone.utc))
        if kind == "chime_bot":
            bot = self.chime.regenerate_security_token(AccountId=a, BotId=b)["Bot"]
            return {"kind": kind, "name": name, "account_id": a, "bot_id": b,
                    "security_token": bot["SecurityToken"], "bot_email": bot.get("BotEmail"),
                    "user_id": bot.get("UserId"), "rotated_at": now}
        if kind == "iam_service_credential":
            cred = self.iam.reset_service_specific_credential(
                UserName=a, ServiceSpecificCredentialId=b)["ServiceSpecificCredential"]
            return {"kind": kind, "name": name, "user_name": cred["UserName"],
                    "service_name": cred["ServiceName"],
                    "service_user_name": cred["ServiceUserName"],
                    "service_password": cred["ServicePassword"],
                    "credential_id": cred["ServiceSpecificCredentialId"], "rotated_at": now}
        if kind == "ivs_participant_token":
            token = self.ivs_client(a).create_participant_token(
                stageArn=a, userId=b, duration=int(c),
                capabilities=["PUBLISH", "SUBSCRIBE"])["participantToken"]
            return {"kind": kind, "name": name, "stage_arn": a,
                    "participant_id": token["participantId"], "user_id": token.get("userId"),
                    "token": token["token"], "capabilities": token.get("capabilities", []),
                    "attributes": token.get("attributes", {}),
                    "expiration_time": utc(token["expirationTime"]), "rotated_at": now}
        raise ValueError(f"unknown kind {kind}")

    def rotate(self, kind, name, secret, a, b, c):
        value = json.dumps(self.secret_value(kind, name, a, b, c))
        try:
            self.secrets.put_secret_value(SecretId=secret, SecretString=value)
            return f"{name}: rotated"
        except self.secrets.exceptions.ResourceNotFoundException:
            self.secrets.create_secret(Name=secret, SecretString=value, Tags=[
                {"Key": "rekeyd:credential", "Value": name}, {"Key": "rekeyd:kind", "Value": kind}])
            return f"{name}: rotated created=true"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("credentials")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with open(args.credentials) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    rotator = Rotator(args.concurrency)
    failed = 0
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        futures = {pool.submit(rotator.rotate, *(row + [""] * (6 - len(row)))[:6]): row[1]
                   for row in rows}
        for future in as_completed(futures):
            try:
                print(future.result(), flush=False)
            except Exception as err:  # noqa: BLE001 - one line per failed credential
                failed += 1
                print(f"{futures[future]}: failed: {err}")
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
