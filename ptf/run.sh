#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ptf/run.sh: the PTF tests of p4src/symdist.p4 (make ptf).
#
#   ptf/run.sh [--switch bmv2|soft] [--keep-logs] [PTF TEST NAMES ...]
#
# Makes a private network namespace with 7 veth pairs (switch ports 1-7),
# starts bmv2 simple_switch_grpc (or, with --switch soft, the Go software
# switch `symdist switch`) on one side of them, and runs ptf on the other
# with the tests in ptf/tests. The tests push p4info/ to the switch over
# P4Runtime and write test/vectors/state.txtpb. Everything is removed on exit,
# also on failure or Ctrl-C. Where something is missing it says what in one
# line and exits 0. Logs: a /tmp/symdist-ptf-* directory, removed after a
# pass unless --keep-logs.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
SWITCH=bmv2
KEEP=0
TESTS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--switch) SWITCH=${2:-}; shift 2 ;;
	--switch=*) SWITCH=${1#--switch=}; shift ;;
	--keep-logs) KEEP=1; shift ;;
	-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) TESTS+=("$1"); shift ;;
	esac
done
case "$SWITCH" in bmv2|soft) ;; *) echo "ptf/run.sh: --switch wants bmv2 or soft, not '$SWITCH'" >&2; exit 2 ;; esac

# Debian's python3 holds the Debian packages (scapy, grpcio, protobuf).
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
# What make toolchain installed, found without PATH editing.
P4_PREFIX=${SYMDIST_P4_PREFIX:-/opt/p4}
[ -d "$P4_PREFIX/bin" ] && export PATH="$P4_PREFIX/bin:$PATH"
[ -d "$P4_PREFIX/ptf/src" ] && export PYTHONPATH="$P4_PREFIX/ptf/src${PYTHONPATH:+:$PYTHONPATH}"

# --- what is missing -------------------------------------------------------
missing=()
[ "$(id -u)" = 0 ] || missing+=("root (it makes a network namespace and veths)")
command -v ip >/dev/null || missing+=("iproute2")
"$PY" -c 'import scapy.all' 2>/dev/null || missing+=("scapy for $PY (apt-get install python3-scapy)")
if ! why=$("$PY" ptf/symdist_p4rt.py --check 2>&1); then
	missing+=("$why")
fi
PTF_BIN=
if [ -n "${PTF_DIR:-}" ]; then
	# A checkout of github.com/p4lang/ptf, used in place.
	if [ -f "$PTF_DIR/ptf" ] && [ -d "$PTF_DIR/src/ptf" ]; then
		PTF_BIN=$PTF_DIR/ptf
		export PYTHONPATH="$PTF_DIR/src${PYTHONPATH:+:$PYTHONPATH}"
	else
		missing+=("PTF_DIR=$PTF_DIR is not a p4lang/ptf checkout (want \$PTF_DIR/ptf and \$PTF_DIR/src/ptf)")
	fi
elif command -v ptf >/dev/null && "$PY" -c 'import ptf' 2>/dev/null; then
	PTF_BIN=$(command -v ptf)
else
	missing+=("p4lang/ptf for $PY (make toolchain, or PTF_DIR=<a ptf checkout>)")
fi
BIN=
if [ "$SWITCH" = bmv2 ]; then
	command -v simple_switch_grpc >/dev/null || missing+=("bmv2 simple_switch_grpc in $P4_PREFIX/bin or on PATH (make toolchain)")
else
	# The software switch: the repository's bin/symdist when newer than the
	# Go sources and p4info/, else go build into it (a binary elsewhere,
	# /tmp's, may be from another checkout).
	BIN=$ROOT/bin/symdist
	if [ ! -x "$BIN" ] || [ -n "$(find . -path ./mininet -prune -o -path ./ptf -prune -o -path ./bin -prune -o \( -name '*.go' -o -name go.mod -o -name go.sum -o -path './p4info/symdist.*' \) -newer "$BIN" -print -quit)" ]; then
		if ! command -v go >/dev/null; then
			missing+=("Go, to build bin/symdist for --switch soft")
		elif ! { mkdir -p "$ROOT/bin" && go build -buildvcs=false -o "$BIN" ./cmd/symdist; }; then
			missing+=("a symdist binary (go build failed)")
		fi
	fi
fi
if [ ${#missing[@]} -gt 0 ]; then
	msg=$(printf '%s; ' "${missing[@]}")
	echo "ptf: not run: missing ${msg%; } (see docs/mininet.md)"
	exit 0
fi

# --- the namespace, the switch, ptf ---------------------------------------
NS=symdist-ptf-$$
LOGDIR=$(mktemp -d /tmp/symdist-ptf-XXXXXX)
SW_PID=
PORTS="1 2 3 4 5 6 7"
GRPC=127.0.0.1:9559
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$SW_PID" ]; then
		kill "$SW_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$SW_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$SW_PID" 2>/dev/null
		wait "$SW_PID" 2>/dev/null
	fi
	# Any process still in the namespace (nothing should be) goes too.
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	if [ "$rc" = 0 ] && [ "$KEEP" = 0 ]; then
		rm -rf "$LOGDIR"
	else
		echo "ptf: logs in $LOGDIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inns() { ip netns exec "$NS" "$@"; }
ip netns add "$NS" || exit 1
# /proc/sys, not sysctl: procps may be missing.
inns sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
ip -n "$NS" link set lo up
IFS_SW=() IFS_PTF=()
for p in $PORTS; do
	ip -n "$NS" link add "sw$p" type veth peer name "ptf$p" || exit 1
	for i in "sw$p" "ptf$p"; do
		ip -n "$NS" link set "$i" mtu 9500 up || exit 1   # the jumbo vector
	done
	IFS_SW+=("$p@sw$p")
	IFS_PTF+=(-i "$p@ptf$p")
done

if [ "$SWITCH" = bmv2 ]; then
	args=(--device-id 1 --no-p4 --log-file "$LOGDIR/bmv2" --log-flush --log-level "${BMV2_LOG_LEVEL:-info}")  # bmv2 adds .txt
	for i in "${IFS_SW[@]}"; do args+=(-i "$i"); done
	args+=(-- --grpc-server-addr "$GRPC" --cpu-port 255)
	echo "ptf: bmv2: simple_switch_grpc ${args[*]}" >"$LOGDIR/switch.cmd"
	inns simple_switch_grpc "${args[@]}" >"$LOGDIR/switch.out" 2>&1 &
	SW_PID=$!
	SWNAME="bmv2 simple_switch_grpc ($(simple_switch_grpc --version 2>/dev/null | head -1))"
else
	args=(switch --grpc "$GRPC" --device-id 1)
	for i in "${IFS_SW[@]}"; do args+=(--port "${i%@*}=${i#*@}"); done
	inns "$BIN" "${args[@]}" >"$LOGDIR/switch.out" 2>&1 &
	SW_PID=$!
	SWNAME="software switch ($BIN)"
fi
for _ in $(seq 300); do
	inns bash -c "exec 3<>/dev/tcp/${GRPC%:*}/${GRPC#*:}" 2>/dev/null && break
	kill -0 "$SW_PID" 2>/dev/null || { echo "ptf: the switch exited:"; tail -5 "$LOGDIR/switch.out"; exit 1; }
	sleep 0.1
done
echo "ptf: $SWNAME on ports ${PORTS// /,} in namespace $NS; P4Runtime $GRPC"

timeout --foreground "${PTF_TIMEOUT:-900}" ip netns exec "$NS" "$PY" "$PTF_BIN" \
	--test-dir "$ROOT/ptf/tests" --pypath "$ROOT/ptf" \
	--log-dir "$LOGDIR/ptf" --socket-recv-size 10240 \
	"${IFS_PTF[@]}" \
	--test-params "grpc_addr='$GRPC';device_id=1;p4info='$ROOT/p4info/symdist.p4info.txtpb';device_config='$ROOT/p4info/symdist.json';stf='$ROOT/test/vectors/symdist.stf';state='$ROOT/test/vectors/state.txtpb'" \
	"${TESTS[@]}"
rc=$?
[ $rc = 124 ] && echo "ptf: timed out after ${PTF_TIMEOUT:-900}s"
# What the vector tests sent, from their logs.
grep -h "vectors sent" "$LOGDIR"/ptf/*.log 2>/dev/null | sed 's/.*INFO *: /ptf: vectors: /' | sort |
	awk '{print} {s += $4; d += $7; x += $9} END {if (NR) printf "ptf: vectors: all: %d of %d in test/vectors/symdist.stf sent, %d differ, %d cannot cross a veth\n", s, s + x, d, x}'
exit $rc
