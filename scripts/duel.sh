#!/usr/bin/env bash
# Compares two builds of cairn side by side: both `cairn bench` runs at once,
# so both see the same machine (speed here drifts up to 1.7x between runs).
# usage: scripts/duel.sh BEFORE_BIN AFTER_BIN [RUNS] [CLIENTS]
#   A_ENV / B_ENV: environment for each side, e.g. B_ENV="CAIRN_WORKER_THREADS=1"
set -euo pipefail
a=$1; b=$2; runs=${3:-3}; clients=${4:-32}
out=$(mktemp -d)
bench() { # side bin env port run
  rm -rf "$out/net-$1"
  env ${3:-} "$2" bench --dir "$out/net-$1" --clients "$clients" --duration 40 \
    --base-port "$4" --json > "$out/$1-$5.json" 2>/dev/null || true
}
for r in $(seq 1 "$runs"); do
  bench a "$a" "${A_ENV:-}" 21000 "$r" & bench b "$b" "${B_ENV:-}" 24000 "$r" & wait
  python3 - "$out/a-$r.json" "$out/b-$r.json" "$r" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ms = lambda r: r["cpu"]["node_ms_per_tx"]
print(f"run {sys.argv[3]}: before {ms(a):.3f} ms/tx {a['tps']:.0f} tx/s | "
      f"after {ms(b):.3f} ms/tx {b['tps']:.0f} tx/s | after/before {ms(b)/ms(a):.3f}")
PY
done
rm -rf "$out"
