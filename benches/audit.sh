#!/usr/bin/env bash
# Benchmark: `rekeyd audit` over 5,000 credentials against the bundled
# emulator (release build). Seeds 5,000 rekeyd-format secrets (tagged) and
# 5,000 Chime bots through POST /_emulator/seed, plus 50 unmanaged tagged
# secrets, then times `audit --offline --format json` and `audit --format json`
# (provider probes on) and counts the calls the emulator served.
#
#   benches/audit.sh [CREDENTIALS] [RUNS]     (defaults: 5000, 5)
#
# Uses hyperfine when installed, else date +%s%N. Prints a Markdown section
# for BENCHMARKS.md on stdout; progress goes to stderr.
set -euo pipefail

N=${1:-5000}
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
EMULATOR_PID=
cleanup() {
    if [ -n "$EMULATOR_PID" ]; then kill "$EMULATOR_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "audit bench: $*" >&2; }

log "building release binary"
(cd "$ROOT" && cargo build --release --quiet)
BIN="$ROOT/target/release/rekeyd"

"$BIN" emulator --listen 127.0.0.1:0 >"$WORK/emulator.out" 2>"$WORK/emulator.err" &
EMULATOR_PID=$!
for _ in $(seq 50); do
    URL=$(grep -o 'http://[0-9.:]*' "$WORK/emulator.out" | head -1 || true)
    [ -n "$URL" ] && break
    sleep 0.1
done
[ -n "$URL" ] || { log "emulator did not start"; cat "$WORK/emulator.err" >&2; exit 1; }
log "emulator at $URL"

python3 - "$N" "$WORK" "$URL" <<'EOF'
import json, sys, datetime
n, work, url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
account = "12a3456b-7c89-012d-3456-78901e23fg45"
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
bots, secrets, policy = [], [], [
    "[aws]", 'region = "us-east-1"', f'endpoint_url = "{url}"', "",
    "[defaults]", 'every = "30d"', "",
]
for i in range(n):
    name, bot = f"bot-{i:05d}", f"{i:08d}-0000-0000-0000-000000000000"
    bots.append({"account_id": account, "bot_id": bot})
    value = {"kind": "chime_bot", "name": name, "account_id": account, "bot_id": bot,
             "security_token": f"bench-token-{i}", "bot_email": None, "user_id": None,
             "rotated_at": now}
    secrets.append({"name": f"rekeyd/{name}", "secret_string": json.dumps(value),
                    "tags": {"rekeyd:credential": name, "rekeyd:kind": "chime_bot"}})
    policy += ["[[chime_bot]]", f'name = "{name}"', f'account_id = "{account}"', f'bot_id = "{bot}"', ""]
for i in range(50):
    secrets.append({"name": f"rekeyd/retired-{i}", "secret_string": "{}",
                    "tags": {"rekeyd:credential": f"retired-{i}"}})
json.dump({"chime_bots": bots, "secrets": secrets}, open(f"{work}/seed.json", "w"))
open(f"{work}/policy.toml", "w").write("\n".join(policy))
EOF

log "seeding $N credentials"
curl -sf -o /dev/null -X POST -H 'content-type: application/json' \
    --data-binary @"$WORK/seed.json" "$URL/_emulator/seed"

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset RUST_LOG AWS_PROFILE AWS_ENDPOINT_URL || true
AUDIT=("$BIN" --config "$WORK/policy.toml" -q audit --format json)

# One run each to check the result and count calls.
count_calls() {
    curl -sf "$URL/_emulator/calls" | python3 -c '
import json, sys, collections
calls = json.load(sys.stdin)
calls = calls.get("calls", calls) if isinstance(calls, dict) else calls
by = collections.Counter(c["service"] + ":" + c["operation"] for c in calls)
print(", ".join("%s %d" % kv for kv in sorted(by.items())), "(total %d)" % len(calls))'
}
check_run() {
    curl -sf -o /dev/null -X DELETE "$URL/_emulator/calls"
    "${AUDIT[@]}" "$@" >"$WORK/report.json" || true
    python3 - "$WORK/report.json" "$N" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
assert len(report["credentials"]) == int(sys.argv[2]), len(report["credentials"])
assert report["summary"].get("ok") == int(sys.argv[2]), report["summary"]
assert report["summary"].get("unmanaged") == 50, report["summary"]
EOF
    count_calls
}
OFFLINE_CALLS=$(check_run --offline)
ONLINE_CALLS=$(check_run)
log "offline calls: $OFFLINE_CALLS"
log "online calls: $ONLINE_CALLS"

time_runs() {
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$WORK/h.json" \
            "${AUDIT[*]} $*" >&2
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("mean %.3f s, min %.3f s, max %.3f s (%d runs, hyperfine)" % (r["mean"], r["min"], r["max"], len(r["times"])))' "$WORK/h.json"
    else
        local times=()
        for _ in $(seq "$RUNS"); do
            local start end
            start=$(date +%s%N)
            "${AUDIT[@]}" "$@" >/dev/null || true
            end=$(date +%s%N)
            times+=($(( (end - start) / 1000000 )))
        done
        python3 -c 'import sys,statistics; t=[int(x)/1000 for x in sys.argv[1:]]; print(f"median {statistics.median(t):.3f} s, min {min(t):.3f} s, max {max(t):.3f} s ({len(t)} runs, date +%s%N)")' "${times[@]}"
    fi
}
log "timing --offline"
OFFLINE_TIME=$(time_runs --offline)
log "timing with provider probes"
ONLINE_TIME=$(time_runs)

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<EOF
## \`rekeyd audit\`, $N credentials

$(date -u +%Y-%m-%d), \`benches/audit.sh $N $RUNS\`, release build, emulator on the same
machine ($(nproc) cores, $CPU), \`[daemon] concurrency\` 8, no rate limits.
$N rekeyd-format secrets (chime_bot, every 30d) plus 50 unmanaged tagged secrets.

| run | wall time | calls served by the emulator |
|---|---|---|
| \`audit --offline --format json\` | $OFFLINE_TIME | $OFFLINE_CALLS |
| \`audit --format json\` (GetBot per bot) | $ONLINE_TIME | $ONLINE_CALLS |
EOF
