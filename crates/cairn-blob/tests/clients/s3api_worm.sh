#!/usr/bin/env bash
# Unmodified `aws s3api` calls against Cairn's blob store (issue 15's first
# "Done when" bullet). Run by tests/s3_clients.rs:
#   s3api_worm.sh AWS_BIN ENDPOINT ADMIN_ID ADMIN_SECRET ALICE_ID ALICE_SECRET
# ADMIN may bypass governance retention, ALICE may not. Ends with
# "N passed, 0 failed"; exits 1 at the first failure.
set -uo pipefail
AWS=$1 URL=$2
ADMIN=("$3" "$4") ALICE=("$5" "$6")
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
PASSED=0
B=worm-cli

as() { # as ID SECRET s3api-args...
  local id=$1 secret=$2; shift 2
  AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret "$AWS" --endpoint-url "$URL" --output json s3api "$@"
}
ok() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { echo "FAIL $1"; echo "$PASSED passed, 1 failed"; exit 1; }
# refused NAME WORD... -- ID SECRET s3api-args: the call fails and stderr has every WORD.
refused() {
  local name=$1; shift
  local words=()
  while [ "$1" != "--" ]; do words+=("$1"); shift; done
  shift
  local err
  if err=$(as "$@" 2>&1 >/dev/null); then fail "$name: the call succeeded"; fi
  for w in "${words[@]}"; do
    grep -q -- "$w" <<<"$err" || fail "$name: no '$w' in: $err"
  done
  ok "$name"
}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
later() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

as "${ADMIN[@]}" create-bucket --bucket $B --object-lock-enabled-for-bucket >/dev/null || fail "create-bucket"
ok "create-bucket --object-lock-enabled-for-bucket"

UNTIL=$(later "+1 day")
V1=$(echo -n "compliance v1" > "$TMPDIR/c1" && as "${ALICE[@]}" put-object --bucket $B --key c.txt --body "$TMPDIR/c1" \
  --object-lock-mode COMPLIANCE --object-lock-retain-until-date "$UNTIL" | json '["VersionId"]') || fail "put-object compliance"
ok "put-object COMPLIANCE until $UNTIL"
refused "compliance: delete refused for the writer" AccessDenied COMPLIANCE "${UNTIL%Z}" -- \
  "${ALICE[@]}" delete-object --bucket $B --key c.txt --version-id "$V1"
refused "compliance: delete refused even with the allowed bypass" AccessDenied COMPLIANCE -- \
  "${ADMIN[@]}" delete-object --bucket $B --key c.txt --version-id "$V1" --bypass-governance-retention
echo -n "overwrite" > "$TMPDIR/c2"
V2=$(as "${ADMIN[@]}" put-object --bucket $B --key c.txt --body "$TMPDIR/c2" | json '["VersionId"]')
as "${ALICE[@]}" get-object --bucket $B --key c.txt --version-id "$V1" "$TMPDIR/out" >/dev/null
[ "$(cat "$TMPDIR/out")" = "compliance v1" ] && [ "$V1" != "$V2" ] || fail "compliance: overwrite changed the version"
ok "compliance: an overwrite is a new version; the original bytes are unchanged"

VG=$(echo -n governance > "$TMPDIR/g" && as "${ALICE[@]}" put-object --bucket $B --key g.txt --body "$TMPDIR/g" \
  --object-lock-mode GOVERNANCE --object-lock-retain-until-date "$(later '+1 day')" | json '["VersionId"]')
refused "governance: delete without the bypass refused" AccessDenied GOVERNANCE -- \
  "${ADMIN[@]}" delete-object --bucket $B --key g.txt --version-id "$VG"
refused "governance: the bypass from a caller not allowed refused" AccessDenied "not allowed to bypass" -- \
  "${ALICE[@]}" delete-object --bucket $B --key g.txt --version-id "$VG" --bypass-governance-retention
as "${ADMIN[@]}" delete-object --bucket $B --key g.txt --version-id "$VG" --bypass-governance-retention >/dev/null \
  || fail "governance: the allowed bypass was refused"
ok "governance: deleted with the bypass by an allowed caller"

VH=$(echo -n held > "$TMPDIR/h" && as "${ALICE[@]}" put-object --bucket $B --key h.txt --body "$TMPDIR/h" | json '["VersionId"]')
as "${ALICE[@]}" put-object-legal-hold --bucket $B --key h.txt --version-id "$VH" --legal-hold Status=ON >/dev/null || fail "legal hold on"
[ "$(as "${ALICE[@]}" get-object-legal-hold --bucket $B --key h.txt --version-id "$VH" | json '["LegalHold"]["Status"]')" = ON ] \
  || fail "legal hold reads back"
refused "legal hold blocks deletion, retention or not, bypass or not" AccessDenied "legal hold" -- \
  "${ADMIN[@]}" delete-object --bucket $B --key h.txt --version-id "$VH" --bypass-governance-retention

MARKER=$(as "${ALICE[@]}" delete-object --bucket $B --key c.txt)
[ "$(json '["DeleteMarker"]' <<<"$MARKER")" = True ] || fail "delete without version id: $MARKER"
ok "delete without a version id returns a delete marker"
refused "the marked key reads as missing" NoSuchKey -- "${ALICE[@]}" get-object --bucket $B --key c.txt "$TMPDIR/x"
as "${ALICE[@]}" get-object --bucket $B --key c.txt --version-id "$V1" "$TMPDIR/out" >/dev/null
[ "$(cat "$TMPDIR/out")" = "compliance v1" ] || fail "the version behind the marker"
ok "the version stays readable by version id"
VERSIONS=$(as "${ALICE[@]}" list-object-versions --bucket $B --prefix c.txt)
[ "$(json '["DeleteMarkers"][0]["IsLatest"]' <<<"$VERSIONS")" = True ] \
  && grep -q "$V1" <<<"$VERSIONS" || fail "list-object-versions: $VERSIONS"
ok "list-object-versions shows the marker and the kept version"

echo "$PASSED passed, 0 failed"
