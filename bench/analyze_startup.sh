#!/usr/bin/env bash
# Wall and CPU time of `scmoe analyze` on a 1 MB Kineto trace, for one or more scmoe programs, runs
# alternating between them (bench/README.md, "Classification and CLI start-up").
# Usage: bench/analyze_startup.sh [runs] SCMOE... ; the trace is written to ${TMPDIR:-/tmp}/trace_1mb.json:
# the first events of tests/data/kineto/trace_filter__sampled_rank-0.json.gz that fit in 1,000,000 bytes.
set -euo pipefail
runs=10
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then runs=$1; shift; fi
[[ $# -ge 1 ]] || { echo "usage: $0 [runs] SCMOE..." >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
trace=${TMPDIR:-/tmp}/trace_1mb.json
python3 - "$here/tests/data/kineto/trace_filter__sampled_rank-0.json.gz" "$trace" <<'PY'
import gzip, json, sys
doc = json.load(gzip.open(sys.argv[1]))
events = doc["traceEvents"]
lo, hi = 0, len(events)
while hi - lo > 1:  # the most events whose document fits in 1,000,000 bytes
    mid = (lo + hi) // 2
    doc["traceEvents"] = events[:mid]
    lo, hi = (mid, hi) if len(json.dumps(doc)) <= 1_000_000 else (lo, mid)
doc["traceEvents"] = events[:lo]
open(sys.argv[2], "w").write(json.dumps(doc))
PY
echo "$(wc -c < "$trace") bytes; $(uptime)"
for ((i = 0; i < runs; i++)); do
  for scmoe in "$@"; do
    /usr/bin/time -f "$scmoe wall %e s cpu %U+%S s" "$scmoe" analyze "$trace" > /dev/null
  done
done 2>&1 | sort
uptime
