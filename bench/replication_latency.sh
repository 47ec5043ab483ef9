#!/usr/bin/env bash
# Latency of R/W choices at N=3: p50/p99 and throughput of PUT (100-byte values) and DELETE
# with ?w=1|2|3 and of GET with ?r=1|2|3, over HTTP with wrk, against a 3-node local cluster.
#
# By default starts its own cluster: three `meridian serve` processes on free loopback ports
# (node1 bootstraps, node2 and node3 join through it), temp data dirs, and stops exactly those
# three processes (by pid) at the end. With --url it reuses a running cluster instead and
# stops nothing (the cluster must have 3 members up, so that N=3 holds for bucket `bench`).
#
# Every request goes to one node (node1, or --url). The bucket `bench` is set to
# conflict_policy=lww (n=3 default) so repeated PUTs overwrite a key instead of adding
# siblings; keys are drawn from 10,000, all written first (bench/replication_fill.lua, w=3).
# PUT runs use bench/http_put.lua with MERIDIAN_BENCH_QUERY="?w=K"; GET and DELETE runs use
# bench/replication_request.lua with "?r=K" / "?w=K" (DELETEs run last: they leave
# tombstones). One request per configuration is also sent with curl to print its
# X-Meridian-Consistency receipt (a sanity check that the override applied).
#
# Usage: bench/replication_latency.sh [--url http://HOST:PORT] [--duration S=10]
#          [--rounds N=1] [--connections C=16] [--threads T=2] [--bin PATH=build/release/meridian]
# With --rounds N every configuration runs N times (rounds interleaved, so a burst of load from
# elsewhere on the machine hits one run of a row, not all) and the table shows medians.
# Output: a log of every wrk run, then a markdown table (op, R/W, req/s, p50, p99, non-2xx).
set -euo pipefail
cd "$(dirname "$0")/.."

url=""
duration=10
rounds=1
connections=16
threads=2
bin=build/release/meridian
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "replication_latency.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
keys=10000

pids=()
work=""
results=""
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$work" ]; then rm -rf "$work"; fi
  if [ -n "$results" ]; then rm -f "$results"; fi
}
trap cleanup EXIT

# Starts node $1 (seeds $2, may be empty); sets node_http and node_peer from its ready line.
start_node() {
  local name="$1" seeds="$2" out="$work/$1.out"
  if [ ! -f "$work/certs/ca.crt" ]; then
    "$bin" cert ca --dir "$work/certs" --cluster-name bench-replication >/dev/null
  fi
  "$bin" cert node --dir "$work/certs" --name "$name" >/dev/null
  local args=(serve --name "$name" --data-dir "$work/$name" --http 127.0.0.1:0
              --peer 127.0.0.1:0 --cluster-name bench-replication
              --peer-tls-ca "$work/certs/ca.crt" --peer-tls-cert "$work/certs/node-$name.crt"
              --peer-tls-key "$work/certs/node-$name.key")
  if [ -n "$seeds" ]; then args+=(--seeds "$seeds"); fi
  "$bin" "${args[@]}" >"$out" 2>"$work/$name.log" &
  pids+=("$!")
  local i
  for i in $(seq 1 300); do
    grep -q "meridian ready" "$out" && break
    sleep 0.1  # waiting for the ready line, at most 30 s
  done
  grep -q "meridian ready" "$out" || { echo "$name did not start" >&2; cat "$work/$name.log" >&2; exit 1; }
  node_http="$(sed -n 's/.*http=\([0-9.:]*\).*/\1/p' "$out" | head -1)"
  node_peer="$(sed -n 's/.*peer=\([0-9.:]*\).*/\1/p' "$out" | head -1)"
}

# True when the node at $1 sees 3 members up and alive, each owning partitions, none
# receiving any, and an owner and no pending owner for every partition.
cluster_ready() {
  curl -sf "$1/v1/cluster/status" | jq -e '
    ([.members[] | select(.status == "up" and .alive and .partitions_owned > 0)] | length) == 3
    and ([.members[] | .partitions_incoming] | add) == 0' >/dev/null 2>&1 &&
  curl -sf "$1/v1/cluster/ring?partitions=true" | jq -e '
    all(.partitions[]; .owner != "" and .pending_owner == "")' >/dev/null 2>&1
}

if [ -z "$url" ]; then
  [ -x "$bin" ] || { echo "no binary at $bin (build it: cmake --build build/release --target meridian)" >&2; exit 1; }
  work="$(mktemp -d /tmp/meridian-repl-bench.XXXXXX)"
  start_node node1 ""
  url="http://$node_http"
  seed="$node_peer"
  start_node node2 "$seed"
  start_node node3 "$seed"
  ready=0
  for _ in $(seq 1 600); do  # at most 60 s
    if cluster_ready "$url"; then ready=1; break; fi
    sleep 0.1
  done
  [ "$ready" = 1 ] || { echo "the cluster did not form within 60 s" >&2; curl -s "$url/v1/cluster/status" >&2; exit 1; }
  version="$("$bin" --version | awk '{print $2}')"
else
  cluster_ready "$url" || { echo "$url: not a settled cluster of 3 members up" >&2; exit 1; }
  version="$(curl -sI "$url/v1/cluster/status" | sed -n 's/^Server: meridian\/\([^\r]*\).*/\1/p')"
fi

curl -sf -X PUT -d '{"conflict_policy":"lww"}' "$url/v1/buckets/bench" >/dev/null
echo "== $(date -u '+%F %H:%M') UTC; $(nproc) cores; meridian $version; cluster at $url;" \
     "wrk -t$threads -c$connections -d${duration}s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Fill every key (sequential keys, one wrk thread) until at least keys + connections PUTs
# completed; at most 5 attempts.
filled=0
for _ in 1 2 3 4 5; do
  line="$(wrk -t1 -c"$connections" -d5s -s bench/replication_fill.lua "$url" | grep '^fill:')"
  echo "-- $line"
  count="$(echo "$line" | awk '{print $2}')"
  errors="$(echo "$line" | awk '{print $4}')"
  if [ "$errors" = 0 ] && [ "$count" -ge $((keys + connections)) ]; then filled=1; break; fi
done
[ "$filled" = 1 ] || { echo "could not write all $keys keys" >&2; exit 1; }

# "1.23ms" / "850.00us" / "1.02s" -> milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n = n * 1000
    printf "%.2f", n }'
}

body="$(head -c 100 /dev/zero | tr '\0' v)"
results="$(mktemp /tmp/meridian-repl-bench-results.XXXXXX)"
run() {  # method quorum-name value round
  local op="$1" name="$2" k="$3" round="$4" out rps p50 p99 total non2xx receipt
  local args=(-s -o /dev/null -D - -X "$op")
  if [ "$op" = PUT ]; then args+=(--data-binary "$body"); fi
  receipt="$(curl "${args[@]}" "$url/v1/kv/bench/key0?$name=$k" | tr -d '\r' |
    sed -n 's/^X-Meridian-Consistency: //Ip')"
  echo "-- round $round: $op ?$name=$k (load average $(cut -d' ' -f1 /proc/loadavg);" \
       "receipt of one request: $receipt)"
  case "$receipt" in
    "n=3; $name=$k; "*) ;;
    *) echo "unexpected receipt for $op ?$name=$k: '$receipt' (want n=3; $name=$k)" >&2; exit 1 ;;
  esac
  if [ "$op" = PUT ]; then
    out="$(MERIDIAN_BENCH_QUERY="?$name=$k" wrk -t"$threads" -c"$connections" \
      -d"${duration}s" --latency -s bench/http_put.lua "$url")"
  else
    out="$(MERIDIAN_BENCH_METHOD="$op" MERIDIAN_BENCH_QUERY="?$name=$k" wrk -t"$threads" \
      -c"$connections" -d"${duration}s" --latency -s bench/replication_request.lua "$url")"
  fi
  echo "$out" | sed -n '/Thread Stats/,$p'
  rps="$(echo "$out" | awk '/^Requests\/sec:/ {printf "%d", $2}')"
  p50="$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")"
  p99="$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")"
  total="$(echo "$out" | awk '/requests in/ {print $1}')"
  non2xx="$(echo "$out" | awk '/Non-2xx or 3xx responses:/ {print $5}')"
  echo "$op ${name^^}=$k $round $rps $p50 $p99 $total ${non2xx:-0}" >>"$results"
}

# Each round: PUTs, then GETs of the (all present) keys; DELETEs run after every round (they
# leave tombstones).
for round in $(seq 1 "$rounds"); do
  for k in 1 2 3; do run PUT w "$k" "$round"; done
  for k in 1 2 3; do run GET r "$k" "$round"; done
done
for round in $(seq 1 "$rounds"); do
  for k in 1 2 3; do run DELETE w "$k" "$round"; done
done

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo
echo "Per run: op quorum round requests/s p50_ms p99_ms requests non-2xx"
cat "$results"
echo
echo "Median of $rounds round(s) per row; non-2xx: share of all requests of the row's runs."
echo
echo "| op | quorum | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
for config in "PUT W=1" "PUT W=2" "PUT W=3" "GET R=1" "GET R=2" "GET R=3" \
              "DELETE W=1" "DELETE W=2" "DELETE W=3"; do
  lines="$(grep "^$config " "$results")"
  rps="$(echo "$lines" | awk '{print $4}' | median)"
  p50="$(echo "$lines" | awk '{print $5}' | median)"
  p99="$(echo "$lines" | awk '{print $6}' | median)"
  share="$(echo "$lines" | awk '{t += $7; e += $8} END {printf "%.1f %%", t ? 100 * e / t : 0}')"
  printf '| %s | %s | %s | %.2f ms | %.2f ms | %s |\n' ${config% *} ${config#* } \
    "$(printf '%.0f' "$rps")" "$p50" "$p99" "$share"
done
