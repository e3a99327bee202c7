#!/usr/bin/env bash
# A tour of moat on a throw-away state file: mint tokens, pipe JSON between
# commands, revoke, and read and verify the audit trail. Needs only cargo.
# (serve and worker are not built yet; when they land this demo grows a
# server, an enrolling worker and a dispatch.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --locked --bins
bin=$PWD/target/release
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export MOAT_STATE=$dir/state.db
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "token create --ttl 2h --label build-agent   # an enrol token; the raw token is shown once"
"$bin/token" create --ttl 2h --label build-agent --format json > "$dir/created.json"
sed -E 's/"token":"(mte_[a-z0-9]+_)[A-Za-z0-9]+"/"token":"\1…(secret elided)"/' "$dir/created.json"; echo

say "token create --kind api --principal user:alice --scope run:worker:build-* -q"
"$bin/token" create --kind api --principal user:alice --scope 'run:worker:build-*' -q | sed -E 's/_[A-Za-z0-9]{49}$/_…(secret elided)/'

say "token create --ttl 1s --label short-lived  (x2), then wait for them to expire"
"$bin/token" create --ttl 1s --label short-lived -q >/dev/null
"$bin/token" create --ttl 1s --label short-lived -q >/dev/null
sleep 1.2

say "token list --format table"
"$bin/token" list --format table

say "token list --state expired | token revoke - --reason expired"
"$bin/token" list --state expired | "$bin/token" revoke - --reason expired --format table

say "token verify < created token   # which record is this, and can it be used?"
sed -E 's/.*"token":"([^"]+)".*/\1/' "$dir/created.json" | "$bin/token" verify --format table

say "audit log --format table"
"$bin/audit" log --format table

say "audit verify"
"$bin/audit" verify --format table
