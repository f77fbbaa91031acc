#!/usr/bin/env bash
# The cron user's rotation: a plain bash loop of `aws` CLI calls, one
# credential after the other. The throughput benchmark's slowest peer.
#
#     benches/peers/rotate-cli.sh CREDENTIALS.tsv
#
# Each line of CREDENTIALS.tsv is tab-separated: KIND NAME SECRET ARG1 ARG2 ARG3
#   chime_bot               NAME SECRET ACCOUNT_ID BOT_ID
#   iam_service_credential  NAME SECRET USER_NAME CREDENTIAL_ID
#   ivs_participant_token   NAME SECRET STAGE_ARN USER_ID DURATION_MINUTES
# Per credential: the provider call, the secret JSON in rekeyd's format
# (SPEC.md, "Secret value") built with python3 (jq is not everywhere), then
# `aws secretsmanager put-secret-value` (create-secret when the secret is
# missing). Endpoint, region and credentials come from the usual AWS_*
# variables. Prints `NAME: rotated` or `NAME: failed` per credential; exits 1
# if any failed. (Like most such scripts it passes the secret on the command
# line, visible in /proc while `aws` runs; rekeyd never does.)
set -u

# stdin: the provider's JSON answer; argv: kind, name, then the policy's ids.
to_secret_json='
import json, sys
from datetime import datetime, timezone
kind, name, *ids = sys.argv[1:]
answer = json.load(sys.stdin)
now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
def utc(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
if kind == "chime_bot":
    bot = answer["Bot"]
    value = {"kind": kind, "name": name, "account_id": ids[0], "bot_id": ids[1],
             "security_token": bot["SecurityToken"], "bot_email": bot.get("BotEmail"),
             "user_id": bot.get("UserId"), "rotated_at": now}
elif kind == "iam_service_credential":
    c = answer["ServiceSpecificCredential"]
    value = {"kind": kind, "name": name, "user_name": c["UserName"], "service_name": c["ServiceName"],
             "service_user_name": c["ServiceUserName"], "service_password": c["ServicePassword"],
             "credential_id": c["ServiceSpecificCredentialId"], "rotated_at": now}
else:
    t = answer["participantToken"]
    value = {"kind": kind, "name": name, "stage_arn": ids[0], "participant_id": t["participantId"],
             "user_id": t.get("userId"), "token": t["token"], "capabilities": t.get("capabilities", []),
             "attributes": t.get("attributes", {}), "expiration_time": utc(t["expirationTime"]),
             "rotated_at": now}
print(json.dumps(value))
'

failed=0
while IFS=$'\t' read -r kind name secret a b c; do
    case "$kind" in
    chime_bot)
        answer=$(aws chime regenerate-security-token --account-id "$a" --bot-id "$b" --output json) ;;
    iam_service_credential)
        answer=$(aws iam reset-service-specific-credential --user-name "$a" \
            --service-specific-credential-id "$b" --output json) ;;
    ivs_participant_token)
        answer=$(aws ivs-realtime create-participant-token --stage-arn "$a" --user-id "$b" \
            --duration "$c" --capabilities PUBLISH SUBSCRIBE --output json) ;;
    *)
        echo "$name: failed: unknown kind $kind" >&2; failed=1; continue ;;
    esac
    if [ $? -ne 0 ] || ! value=$(printf '%s' "$answer" | python3 -c "$to_secret_json" "$kind" "$name" "$a" "$b"); then
        echo "$name: failed"; failed=1; continue
    fi
    if ! err=$(aws secretsmanager put-secret-value --secret-id "$secret" --secret-string "$value" 2>&1 >/dev/null); then
        if [[ "$err" == *ResourceNotFoundException* ]] &&
            aws secretsmanager create-secret --name "$secret" --secret-string "$value" \
                --tags "Key=rekeyd:credential,Value=$name" "Key=rekeyd:kind,Value=$kind" >/dev/null; then
            echo "$name: rotated created=true"; continue
        fi
        echo "$name: failed: $err"; failed=1; continue
    fi
    echo "$name: rotated"
done < "$1"
exit "$failed"
