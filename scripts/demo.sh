#!/usr/bin/env bash
# moat end to end on loopback, with a throw-away state file: serve, a worker
# enrolling with a one-use token, a dispatch that uses a secret, the fleet,
# a revocation, and the audit trail. Needs only cargo. Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --locked --bins
# Where cargo put them: CARGO_TARGET_DIR or .cargo/config may move target/.
bin=$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
export MOAT_STATE=$dir/state.db
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
elide() { sed -E 's/(mt[aew]_[a-z0-9]{12}_)[A-Za-z0-9]{49}/\1…/g'; }

say "token create --kind api --principal user:alice -q > alice.token   # the operator's api token"
"$bin/token" create --kind api --principal user:alice -q > "$dir/alice.token"
chmod 600 "$dir/alice.token"
elide < "$dir/alice.token"

printf '{"GREETING":"hello from the vault"}\n' > "$dir/secrets.json"
chmod 600 "$dir/secrets.json"
say "serve --port 0 --admins user:alice --secrets-file secrets.json &"
"$bin/serve" --port 0 --admins user:alice --secrets-file "$dir/secrets.json" > "$dir/serve.out" 2> "$dir/serve.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$dir/serve.out" ] && break; sleep 0.1; done
url=$(sed -E 's/.*"(http[^"]+)".*/\1/' "$dir/serve.out")
echo "listening on $url"
export MOAT_SERVER=$url MOAT_AUTH_TOKEN_FILE=$dir/alice.token

say "token create --ttl 15m --max-uses 1 --label build-1 -q --server \$URL   # a one-use enrol token"
"$bin/token" create --ttl 15m --max-uses 1 --label build-1 -q > "$dir/enrol.token"
elide < "$dir/enrol.token"

# A worker refuses to run steps as root: as root, steps run as nobody.
run_as=(); [ "$(id -u)" = 0 ] && run_as=(--run-as nobody)
say "worker connect --server ${url/http/ws} --token-file enrol.token --cache-dir cache --label name=build-1 ${run_as[*]} &"
"$bin/worker" connect --server "${url/http/ws}" --token-file "$dir/enrol.token" --cache-dir "$dir/cache" \
  --label name=build-1 "${run_as[@]}" 2> "$dir/worker.log" &
pids+=($!)
for _ in $(seq 50); do grep -q "connected as" "$dir/worker.log" 2>/dev/null && break; sleep 0.1; done
cat "$dir/worker.log"

say "worker list --format table"
"$bin/worker" list --format table

say "worker dispatch --to build-1 --secret GREETING -- sh -c 'echo \"\$GREETING, from \$(hostname)\"'"
"$bin/worker" dispatch --to build-1 --secret GREETING --format table -- sh -c 'echo "$GREETING, from $(hostname)"' || true

say "grant check --principal user:alice --action run --resource worker:build-1 --explain"
"$bin/grant" check --principal user:alice --action run --resource worker:build-1 --explain --format table || true

say "worker revoke <id>   # cuts the live socket; the worker exits 4 and does not retry"
id=$("$bin/worker" list --format ndjson | sed -E 's/.*"id":"(wrk_[a-z0-9]+)".*/\1/' | head -n 1)
"$bin/worker" revoke "$id" --format table
sleep 1
tail -n 2 "$dir/worker.log"

say "audit log --format table   # every step above, hash-chained (secret values never appear)"
unset MOAT_SERVER
"$bin/audit" log --format table | cut -c1-140

say "audit verify"
"$bin/audit" verify --format table
