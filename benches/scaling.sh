#!/usr/bin/env bash
# How the training grid scales with --jobs: trains benches/scaling.toml (64 equal points) into a
# fresh cache once per job count and prints, per count, the training stage's own throughput
# record (GFLOP/s over the training time, start-up excluded) and its ratio to the first count.
#
#   bash benches/scaling.sh [BINARY] [JOBS...]      # default: target/release/edge-of-chaos 1 2
#   bash benches/scaling.sh ./eoc 1 2 4 8 16        # e.g. on a 16-core machine
#
# Prints one JSON object per line (jobs, gflops, seconds, speedup) after the human-readable lines;
# with $OUT set, also writes them to $OUT/scaling.jsonl. Needs only the binary and data/mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/edge-of-chaos}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2)
[ -x "$bin" ] || { echo "scaling.sh: no executable binary at $bin (build with cargo build --release)" >&2; exit 2; }
echo "machine: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
base=""
lines=()
for j in "${counts[@]}"; do
    dir=$(mktemp -d)
    log=$("$bin" --profile benches/scaling.toml --cache-dir "$dir" -j "$j" run training 2>&1) || {
        echo "$log" >&2
        rm -rf "$dir"
        exit 1
    }
    rm -rf "$dir"
    # "    training: 391 GFLOP/s over 27.1 s (76% of faer's 1024^3 product x 2 thread(s), ...)"
    rec=$(echo "$log" | grep -E 'training: [0-9.]+ GFLOP/s over' | tail -1)
    gflops=$(echo "$rec" | sed -E 's/.*training: ([0-9.]+) GFLOP\/s over ([0-9.]+) s.*/\1/')
    secs=$(echo "$rec" | sed -E 's/.*training: ([0-9.]+) GFLOP\/s over ([0-9.]+) s.*/\2/')
    [ -n "$gflops" ] || { echo "scaling.sh: no throughput record in the output of --jobs $j" >&2; echo "$log" >&2; exit 1; }
    base=${base:-$gflops}
    speedup=$(awk -v a="$gflops" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
    echo "jobs $j: $gflops GFLOP/s over $secs s, ${speedup}x the first count   [$rec]"
    lines+=("{\"jobs\": $j, \"gflops\": $gflops, \"seconds\": $secs, \"speedup\": $speedup}")
done
for l in "${lines[@]}"; do echo "$l"; done
if [ -n "${OUT:-}" ]; then printf '%s\n' "${lines[@]}" > "$OUT/scaling.jsonl"; fi
