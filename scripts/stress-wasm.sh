#!/usr/bin/env bash
# Runs the js/wasm tests (as make test-wasm does) N times in a row (default 50) while
# two CPU-burning loops compete for the machine, and stops at the first failure. A
# test that races the clock fails here long before it fails in CI.
set -euo pipefail
runs=${1:-50}
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "stress-wasm: node is missing (make node)"; exit 1; }

burners=()
stop() { [ ${#burners[@]} -eq 0 ] || kill "${burners[@]}" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM
for _ in 1 2; do
	sh -c 'while :; do :; done' &
	burners+=($!)
done

export PATH="$(go env GOROOT)/lib/wasm:$PATH"
log=$(mktemp)
trap 'stop; rm -f "$log"' EXIT
start=$SECONDS
for i in $(seq 1 "$runs"); do
	if ! GOOS=js GOARCH=wasm go test -count=1 ./wasm/... ./credential/... ./chip/... ./bridge/... >"$log" 2>&1; then
		grep -v '^ok \|no test files' "$log" || true
		echo "stress-wasm: run $i of $runs failed under load ($((i - 1)) passed before it)"
		exit 1
	fi
	echo "stress-wasm: run $i/$runs ok ($((SECONDS - start))s so far)"
done
echo "stress-wasm: $runs/$runs passed under load"
echo "stress-wasm: $((SECONDS - start))s"
