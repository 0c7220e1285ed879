#!/bin/sh
# Instructions per request (user space, exact) of the axum hello route without a layer,
# under a pass-through layer, and under SignalsLayer with 3 receivers (by `Router::layer`
# and by `SignalsLayer::around`): the layer_wrk
# bench's `serve` mode under callgrind, loaded by wrk; counting starts after a warm-up and
# covers SECONDS of load.
#
#   cargo bench -p signals-tower --bench layer_wrk --no-run   # prints the executable
#   signals-tower/benches/layer_callgrind.sh path/to/layer_wrk-HASH [SECONDS] [CONNECTIONS]
#
# SERVERS (default "plain noop layer around") picks the servers; "hyper-plain hyper-layer"
# are the bare router and the router inside the layer served by hyper directly, whose
# wrapped body hyper keeps unboxed.
#
# Needs valgrind (callgrind_control) and wrk; fails without them. Not run in CI.
set -eu
bench=$1
seconds=${2:-20}
connections=${3:-8}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
command -v callgrind_control >/dev/null || { echo "callgrind_control is not installed" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
port=18431
for which in ${SERVERS:-plain noop layer around}; do
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/$which.%p" \
        "$bench" serve "$which" "$port" >"$dir/$which.log" 2>&1 &
    pid=$!
    # Up (valgrind starts slowly), then warmed up, uncounted.
    tries=0
    until wrk -t1 -c1 -d1s "http://127.0.0.1:$port/" >/dev/null 2>&1 \
        && grep -q serving "$dir/$which.log"; do
        tries=$((tries + 1))
        [ "$tries" -lt 60 ] || { echo "$which did not start:" >&2; cat "$dir/$which.log" >&2; exit 1; }
        sleep 1
    done
    wrk -t1 -c"$connections" -d3s "http://127.0.0.1:$port/" >/dev/null
    callgrind_control -i on "$pid" >/dev/null 2>&1
    out=$(wrk -t1 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$port/")
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    requests=$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')
    if printf '%s\n' "$out" | grep -qE 'Non-2xx|Socket errors'; then
        echo "wrk saw errors against $which:" >&2; printf '%s\n' "$out" >&2; exit 1
    fi
    instructions=$(cat "$dir/$which".* | awk '/^totals:/ {s += $2} END {print s}')
    [ -n "$requests" ] && [ "$requests" -gt 0 ] && [ -n "$instructions" ] && [ "$instructions" -gt 0 ] \
        || { echo "no count for $which (requests '$requests', instructions '$instructions')" >&2; exit 1; }
    echo "$which: $requests requests, $instructions instructions, $((instructions / requests)) per request"
    rm -f "$dir/$which".*
    port=$((port + 1))
done
