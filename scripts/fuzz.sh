#!/usr/bin/env bash
# Runs every Fuzz target in the module for the given time each (default 30s).
set -euo pipefail
time=${1:-30s}
cd "$(dirname "$0")/.."
found=0
while IFS=: read -r file name; do
	pkg=$(dirname "$file")
	found=$((found + 1))
	echo "== $pkg $name ($time)"
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "$pkg"
done < <(find . -name '*_test.go' -not -path './var/*' -print0 | xargs -0 grep -Ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/func //')
echo "fuzz: $found targets ran for $time each without a crash"
