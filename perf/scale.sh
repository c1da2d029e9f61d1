#!/bin/sh
# perf/scale.sh — how teamgw's data path scales over worker lcores, on this
# machine or on real NICs at line rate (method: perf/README.md, "Scaling").
#
#   perf/scale.sh local [MAX]           in-process, net_null members: txbench's scaling
#                                       section with 1..MAX workers (default: every CPU)
#   perf/scale.sh tx MAX PORT...        outbound to real NICs: txbench's trunk worker
#                                       sends on PORT... (PCI addresses bound to vfio-pci)
#                                       from 1..MAX workers, counted by the NICs
#   perf/scale.sh rx CONFIG CORE...     the daemon on real NICs while a generator floods
#                                       the members: teamgw -config CONFIG with
#                                       worker_cores = the first 1, 2, ... of CORE...,
#                                       rates per member and worker sampled by linerate
#
# Environment: BIN (bin), OUT (perf/results), ROUNDS (5), STEPS (20000),
# WARMUP seconds (5), INTERVAL (10s), SAMPLES (3), SOCKET (teamctl's default).
# Run from the repository root after `make build`, as root.
set -eu

BIN=${BIN:-bin}
OUT=${OUT:-perf/results}
ROUNDS=${ROUNDS:-5}
STEPS=${STEPS:-20000}

usage() {
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# upto N prints 1,2,...,N.
upto() { seq -s, 1 "$1"; }

# with_workers CONFIG CORES writes CONFIG with [eal] worker_cores = [CORES]
# to standard output, replacing any worker_cores line.
with_workers() {
	awk -v cores="$2" '
		/^[[:space:]]*worker_cores[[:space:]]*=/ { next }
		{ print }
		/^\[eal\][[:space:]]*$/ { print "worker_cores = [" cores "]"; done = 1 }
		END { if (!done) { print ""; print "[eal]"; print "worker_cores = [" cores "]" } }
	' "$1"
}

teamctl() {
	if [ -n "${SOCKET:-}" ]; then "$BIN/teamctl" -socket "$SOCKET" "$@"; else "$BIN/teamctl" "$@"; fi
}

[ $# -ge 1 ] || usage
mode=$1
shift
case $mode in
local)
	max=${1:-$(nproc)}
	exec "$BIN/txbench" -sections scaling -workers "$(upto "$max")" -rounds "$ROUNDS" -steps "$STEPS" -out "$OUT"
	;;
tx)
	[ $# -ge 2 ] || usage
	max=$1
	shift
	exec "$BIN/txbench" -sections scaling -workers "$(upto "$max")" -scale-ports "$*" -rounds "$ROUNDS" -steps "$STEPS" -out "$OUT"
	;;
rx)
	[ $# -ge 2 ] || usage
	config=$1
	shift
	cfg=$(mktemp /tmp/teamgw-scale.XXXXXX.toml)
	pid=
	trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -f "$cfg"' EXIT INT TERM
	cores=
	for core in "$@"; do
		cores=${cores:+$cores, }$core
		n=$(echo "$cores" | tr ',' '\n' | wc -l)
		with_workers "$config" "$cores" >"$cfg"
		"$BIN/teamgw" -config "$cfg" >"$cfg.log" 2>&1 &
		pid=$!
		tries=0
		until teamctl show >/dev/null 2>&1; do
			tries=$((tries + 1))
			if [ $tries -gt 60 ] || ! kill -0 "$pid" 2>/dev/null; then
				echo "scale.sh: teamgw did not come up with worker_cores = [$cores]:" >&2
				cat "$cfg.log" >&2
				exit 1
			fi
			sleep 0.5
		done
		sleep "${WARMUP:-5}"
		# shellcheck disable=SC2086 # no socket: no argument
		"$BIN/linerate" -teamctl "$BIN/teamctl" ${SOCKET:+-socket $SOCKET} -label "workers=$n cores=[$cores]" \
			-interval "${INTERVAL:-10s}" -samples "${SAMPLES:-3}" -out "$OUT"
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		pid=
		rm -f "$cfg.log"
	done
	;;
*)
	usage
	;;
esac
