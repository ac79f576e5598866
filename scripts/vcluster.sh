#!/usr/bin/env bash
# vcluster.sh: a two-node Slurm cluster on one Linux machine, for trying and testing Switchyard
# across "hosts". Each node is a network namespace (sy-h1 10.77.0.1, sy-h2 10.77.0.2) joined by a
# veth pair; slurmctld and slurmd node1 run in sy-h1, slurmd node2 in sy-h2, each slurmd in its
# own UTS namespace (hostname node1 / node2). munged runs on a private socket with its own key,
# so a munged or Slurm already on the machine is neither used nor disturbed.
#
#   scripts/vcluster.sh up                 start it (a stale one is torn down first)
#   scripts/vcluster.sh down               stop every daemon it started, delete the namespaces
#   scripts/vcluster.sh status             is it up? (exit 0 when both nodes are idle)
#   scripts/vcluster.sh env                print `export SLURM_CONF=…` for this shell
#   scripts/vcluster.sh exec CMD [ARG…]    run CMD in sy-h1 (the "login node") with SLURM_CONF set
#
# Needs root, iproute2, util-linux (nsenter, unshare), slurm-wlm, munge, and libpmix-dev for
# `srun --mpi=pmix` (Slurm's PMIx plugin dlopens libpmix.so, which only the -dev package has).
#
# Environment: SY_VCLUSTER_STATE (default /run/sy-vcluster) names the file that records the
# scratch directory of the running cluster; SY_VCLUSTER_WAIT (default 30) is how many seconds
# `up` waits for both nodes to be idle.
set -euo pipefail

NS1=sy-h1 NS2=sy-h2
ADDR1=10.77.0.1 ADDR2=10.77.0.2 PREFIX=24
VETH1=sy-veth1 VETH2=sy-veth2
STATE=${SY_VCLUSTER_STATE:-/run/sy-vcluster}
WAIT=${SY_VCLUSTER_WAIT:-30}

die() { echo "vcluster: $*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
scratch() { [ -f "$STATE" ] && cat "$STATE" || true; }
in_h1() { nsenter --net=/run/netns/$NS1 "$@"; }

need_tools() {
  [ "$(id -u)" = 0 ] || die "must run as root (it creates network namespaces and starts slurmd)"
  local missing=()
  for t in ip nsenter unshare munged mungekey slurmctld slurmd sinfo srun; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ ${#missing[@]} = 0 ] || die "missing commands: ${missing[*]} (apt-get install iproute2 util-linux munge slurm-wlm)"
  [ -d /sys/fs/cgroup ] && [ -n "$(ls -A /sys/fs/cgroup 2>/dev/null)" ] || die "/sys/fs/cgroup is not mounted: slurmd needs it"
}

# Scratch directories of this cluster: the recorded one, and any left by a run whose record is
# gone (a crash, a reboot of /run).
scratch_dirs() {
  { scratch; ls -d /tmp/sy-vcluster.* 2>/dev/null; } | sort -u
}

# Pids of the processes this cluster started: its pid files, everything inside its two network
# namespaces (slurmd, slurmstepd, job tasks, orted), and the daemons whose command line names
# one of its scratch directories. Nothing else on the machine matches.
cluster_pids() {
  local w f pid dirs
  dirs=$(scratch_dirs)
  for w in $dirs; do
    for f in "$w"/slurmctld.pid "$w"/slurmd-node1.pid "$w"/slurmd-node2.pid "$w"/munge/munged.pid; do
      if [ -s "$f" ]; then cat "$f"; fi
    done
  done
  for ns in $NS1 $NS2; do
    if [ -e /run/netns/$ns ]; then ip netns pids $ns 2>/dev/null || true; fi
  done
  [ -n "$dirs" ] || return 0
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    for w in $dirs; do
      if tr '\0' ' ' 2>/dev/null < /proc/$pid/cmdline | grep -qF -- "$w/"; then echo "$pid"; break; fi
    done
  done
}

# Those of the given pids that still run (a zombie has ended: pid 1 reaps it in its own time).
still_running() {
  local p
  for p in "$@"; do
    if [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status 2>/dev/null; then echo "$p"; fi
  done
}

down() {
  local w pids i
  pids=$({ cluster_pids | grep -vx "$$" | sort -un; } || true)
  if [ -n "$pids" ]; then
    kill $pids 2>/dev/null || true
    for i in $(seq 1 50); do
      pids=$(still_running $pids)
      [ -z "$pids" ] && break
      sleep 0.1
    done
    if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
  fi
  ip netns del $NS1 2>/dev/null || true
  ip netns del $NS2 2>/dev/null || true
  for w in $(scratch_dirs); do
    if [[ "$w" == */sy-vcluster.* ]]; then rm -rf "$w"; fi
  done
  rm -f "$STATE"
}

write_conf() {
  local w=$1 cpus
  cpus=$(nproc)
  cat > "$w/slurm.conf" <<CONF
ClusterName=switchyard
SlurmctldHost=$(hostname)($ADDR1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$w/munge/munge.socket
StateSaveLocation=$w/state
SlurmdSpoolDir=$w/spool/%n
TmpFS=$w/tmp/%n
SlurmctldPidFile=$w/slurmctld.pid
SlurmdPidFile=$w/slurmd-%n.pid
SlurmctldLogFile=$w/log/slurmctld.log
SlurmdLogFile=$w/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
InactiveLimit=0
KillWait=2
NodeName=node1 NodeAddr=$ADDR1 NodeHostname=node1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
NodeName=node2 NodeAddr=$ADDR2 NodeHostname=node2 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
}

start_munge() {
  local m=$1/munge
  # munged wants its socket directory searchable by all; the key itself is 0600.
  mkdir -p "$m" && chown munge:munge "$m" && chmod 0755 "$m"
  runuser -u munge -- mungekey -c -k "$m/munge.key" >/dev/null
  runuser -u munge -- munged --socket="$m/munge.socket" --key-file="$m/munge.key" --pid-file="$m/munged.pid" \
    --log-file="$m/munged.log" --seed-file="$m/munged.seed" || die "munged did not start"
}

make_network() {
  ip netns add $NS1
  ip netns add $NS2
  ip link add $VETH1 type veth peer name $VETH2
  ip link set $VETH1 netns $NS1
  ip link set $VETH2 netns $NS2
  ip -n $NS1 addr add $ADDR1/$PREFIX dev $VETH1
  ip -n $NS2 addr add $ADDR2/$PREFIX dev $VETH2
  for n in 1 2; do
    local ns=NS$n veth=VETH$n
    ip -n ${!ns} link set lo up
    ip -n ${!ns} link set ${!veth} up
  done
}

print_logs() {
  local w=$1 f
  for f in "$w"/log/*.log "$w"/munge/munged.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 30 lines)" >&2
    tail -n 30 "$f" >&2
  done
}

up() {
  need_tools
  local t0 n i
  ok=''
  t0=$(now_ms)
  # A clean slate: whatever an earlier run left (daemons, namespaces, scratch) goes first.
  down
  # 0755: munged (user munge) must traverse it to reach its socket directory.
  w=$(mktemp -d /tmp/sy-vcluster.XXXXXX)
  # Whatever fails from here on: show why, and leave nothing running.
  trap 'if [ -z "$ok" ]; then print_logs "$w"; down; fi' EXIT
  chmod 0755 "$w"
  mkdir -p "$(dirname "$STATE")" && echo "$w" > "$STATE"
  mkdir -p "$w/state" "$w/log" "$w/spool/node1" "$w/spool/node2" "$w/tmp/node1" "$w/tmp/node2"
  write_conf "$w"
  export SLURM_CONF=$w/slurm.conf
  start_munge "$w"
  make_network
  # nsenter --net, never `ip netns exec`: that also remounts /sys, and slurmd then finds no
  # /sys/fs/cgroup. Each slurmd gets its own hostname, so per-host names (shared-memory
  # segments, "same host" checks) do not collide between the two nodes.
  in_h1 slurmctld -f "$SLURM_CONF"
  for n in 1 2; do
    nsenter --net=/run/netns/sy-h$n unshare --uts sh -c "hostname node$n && exec slurmd -N node$n -f '$SLURM_CONF'"
  done
  for i in $(seq 1 $(( WAIT * 10 ))); do
    if [ "$(in_h1 sinfo -h -t idle -o %D 2>/dev/null)" = 2 ]; then ok=1; break; fi
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    echo "vcluster: the nodes were not idle after ${WAIT}s; sinfo says:" >&2
    in_h1 sinfo -N >&2 || true
    exit 1
  fi
  echo "vcluster up in $(( $(now_ms) - t0 )) ms: node1 $ADDR1 ($NS1), node2 $ADDR2 ($NS2); SLURM_CONF=$SLURM_CONF"
}

status() {
  local w
  w=$(scratch)
  [ -n "$w" ] && [ -f "$w/slurm.conf" ] && [ -e /run/netns/$NS1 ] || { echo "vcluster: down"; return 1; }
  SLURM_CONF=$w/slurm.conf in_h1 sinfo -N || return 1
  [ "$(SLURM_CONF=$w/slurm.conf in_h1 sinfo -h -t idle,mix,alloc -o %D 2>/dev/null)" = 2 ]
}

running_conf() {
  local w
  w=$(scratch)
  [ -n "$w" ] && [ -f "$w/slurm.conf" ] || die "not up (run: $0 up)"
  echo "$w/slurm.conf"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) echo "export SLURM_CONF=$(running_conf)" ;;
  exec)
    shift
    [ $# -gt 0 ] || die "exec needs a command"
    conf=$(running_conf)
    SLURM_CONF=$conf exec nsenter --net=/run/netns/$NS1 "$@"
    ;;
  *) die "usage: $0 up|down|status|env|exec CMD [ARG…]" ;;
esac
