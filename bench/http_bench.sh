#!/usr/bin/env bash
# Single-node HTTP throughput with wrk: PUT then GET of 100-byte values, 50 connections.
# Starts its own node (release build) on a free loopback port with a temporary data dir,
# stops it at the end. The bucket `bench` uses conflict_policy=lww so repeated PUTs to a key
# overwrite it instead of accumulating siblings; keys are drawn from 10,000.
# Usage: bench/http_bench.sh [duration_s=10] [connections=50] [wrk_threads=2]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
connections="${2:-50}"
threads="${3:-2}"
bin=build/release/meridian
[ -x "$bin" ] || scripts/build release
data_dir="$(mktemp -d)"
out="$(mktemp)"
"$bin" serve --data-dir "$data_dir" --http 127.0.0.1:0 >"$out" 2>"$data_dir.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data_dir" "$data_dir.log" "$out"; }
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "meridian ready" "$out" && break; sleep 0.1; done
addr="$(sed -n 's/.*http=\([0-9.:]*\).*/\1/p' "$out" | head -1)"
[ -n "$addr" ] || { echo "server did not start" >&2; cat "$data_dir.log" >&2; exit 1; }
curl -sf -X PUT -d '{"conflict_policy":"lww"}' "http://$addr/v1/buckets/bench" >/dev/null
echo "== $(date -u +%F) $(nproc) cores; meridian $("$bin" --version | awk '{print $2}'); wrk -t$threads -c$connections -d${duration}s"
echo "-- PUT 100 B (bucket bench, lww, dw=0)"
wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s bench/http_put.lua "http://$addr" | sed -n '/Thread Stats/,$p'
echo "-- PUT 100 B durable (?dw=1: fsync before the reply)"
MERIDIAN_BENCH_QUERY="?dw=1" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s bench/http_put.lua "http://$addr" | sed -n '/Thread Stats/,$p'
echo "-- GET 100 B"
wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s bench/http_get.lua "http://$addr" | sed -n '/Thread Stats/,$p'
echo "-- server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
