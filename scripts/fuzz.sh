#!/usr/bin/env bash
# Runs each fuzz target (package:Target) for FUZZTIME.
#
# A target fails the run when go test fails and either a new failing input
# appeared under the package's testdata/fuzz/<Target>/, or the failure is
# anything other than Go's fuzz-coordinator race: Go 1.26's internal/fuzz
# can report "context deadline exceeded" at the -fuzztime boundary having
# found nothing (golang/go#75804, fixed in Go 1.27). Such a run is retried,
# at most twice, and reported; it never hides an input that fails.
set -uo pipefail

fuzztime=${FUZZTIME:-30s}
go=${GO:-go}
retries=2

for t in "$@"; do
  pkg=${t%%:*}
  name=${t##*:}
  corpus="$pkg/testdata/fuzz/$name"
  attempt=0
  while :; do
    echo "fuzz $pkg $name ($fuzztime)"
    before=$(ls "$corpus" 2>/dev/null | sort)
    out=$(mktemp)
    "$go" test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    after=$(ls "$corpus" 2>/dev/null | sort)
    deadline_only=0
    if grep -q '^    context deadline exceeded$' "$out" && ! grep -q 'Failing input written to' "$out"; then
      deadline_only=1
    fi
    rm -f "$out"
    [ "$status" -eq 0 ] && break
    if [ "$before" != "$after" ]; then
      echo "fuzz $pkg $name: FAILED, new failing input in $corpus" >&2
      exit 1
    fi
    if [ "$deadline_only" -eq 1 ] && [ "$attempt" -lt "$retries" ]; then
      attempt=$((attempt + 1))
      echo "fuzz $pkg $name: 'context deadline exceeded' with no failing input (golang/go#75804); retry $attempt of $retries" >&2
      continue
    fi
    echo "fuzz $pkg $name: FAILED (exit $status)" >&2
    exit 1
  done
done
