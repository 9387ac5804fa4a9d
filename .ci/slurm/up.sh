#!/usr/bin/env bash
# Bring up a real two-node SLURM cluster on this machine, for CI and for trying the SLURM profile.
#
#   .ci/slurm/up.sh     # installs Debian's slurm-wlm + munge if missing, starts the daemons
#   .ci/slurm/down.sh   # stops them again
#
# What it sets up: munged, slurmctld and two slurmd on this host (Debian's slurmd is built with
# --enable-multiple-slurmd: `slurmd -N <node>` runs one daemon per node name, each on its own
# port), nodes `sstsal-n1` and `sstsal-n2` in one partition `debug`, each with SSTSAL_SLURM_CPUS
# CPUs (default 1, so that two jobs at once land on two nodes) and this machine's memory (from
# `slurmd -C`); the shared file system is the local disk. SelectType=select/cons_tres with CPUs
# and memory as consumables; no accounting database (so status queries must use squeue, hence
# MinJobAge is long enough for that); and SSTSAL_SLURM_GPUS (default 2, at most 2) stand-in GPUs
# per node (GRES backed by /dev/null, /dev/zero on the first node, /dev/full, /dev/random on the
# second) so that the profile's GPU requests go through SLURM's GRES scheduling exactly as on a
# GPU cluster, and SLURM sets CUDA_VISIBLE_DEVICES in each GPU job. They are bookkeeping only:
# the jobs run on the CPU when there is no CUDA.
# Needs root (or sudo). Idempotent: run it again and it only (re)starts what is not running.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
FAKE_GPUS="${SSTSAL_SLURM_GPUS:-2}"
NODE_CPUS="${SSTSAL_SLURM_CPUS:-1}"
NODES=(sstsal-n1 sstsal-n2)
PORTS=(17001 17002)
WAIT_S="${SSTSAL_SLURM_WAIT_S:-60}"
MARKER="# written by sstsal-pipeline .ci/slurm/up.sh"
CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf
STATE=/var/lib/sstsal-ci-slurm   # spool, state and logs of this throw-away cluster

log() { echo "[slurm-up] $*" >&2; }

# 1. Packages. --no-install-recommends keeps it to the daemons and client (not the dozens of
#    plugin -dev packages slurm-wlm recommends).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
   || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurmctld slurmd slurm-client munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# 2. Configuration. Never overwrite a slurm.conf this script did not write: that would be a
#    real cluster's configuration.
if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
    log "ERROR: $CONF exists and was not written by this script; refusing to overwrite it."
    log "       Remove it (or point the tests at your cluster) and run again."
    exit 1
fi
HOST="$(hostname -s)"
if ! slurmd -h 2>&1 | grep -q -- '-N node'; then
    log "ERROR: this slurmd is built without --enable-multiple-slurmd (no -N option): no two nodes here"
    exit 1
fi
# `slurmd -C` prints this machine's memory as slurmd itself will detect it; RealMemory must not
# exceed it or slurmd drains the node. Both nodes are this machine, so each may use all of it.
MEMORY="$(slurmd -C | head -n 1 | grep -o 'RealMemory=[0-9]*' || true)"
if [ -z "$MEMORY" ]; then log "ERROR: slurmd -C printed no RealMemory: $(slurmd -C | head -n 1)"; exit 1; fi
if [ "$FAKE_GPUS" -gt 2 ]; then log "ERROR: SSTSAL_SLURM_GPUS=$FAKE_GPUS; at most 2 stand-in GPUs per node"; exit 1; fi
GRES_LINE=""
if [ "$FAKE_GPUS" -gt 0 ]; then GRES_LINE="Gres=gpu:$FAKE_GPUS"; fi
NODE_LINES=""
for i in 0 1; do
    NODE_LINES+="NodeName=${NODES[$i]} NodeHostname=$HOST NodeAddr=127.0.0.1 Port=${PORTS[$i]} CPUs=$NODE_CPUS $MEMORY $GRES_LINE State=UNKNOWN"$'\n'
done
$SUDO mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$STATE/log"
TMP_CONF="$(mktemp)"
cat >"$TMP_CONF" <<CONF
$MARKER
# Two-node throw-away cluster for CI, both nodes on this machine; see .ci/slurm/up.sh.
ClusterName=sstsal-ci
SlurmctldHost=$HOST
# Daemons and jobs as root: a CI container has no other users and no cgroup delegation.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
# No accounting database: clients query job states with squeue, so finished jobs must stay
# visible for a while (the plugin recommends at least 120 s).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
# Short intervals: a CI run wants jobs to start and be noticed quickly.
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SlurmctldTimeout=30
SlurmdTimeout=60
# A node taken down (scontrol update state=down) stays down until `state=resume`.
ReturnToService=1
KillWait=5
StateSaveLocation=$STATE/ctld
# %n: the node name, one spool, pid and log per slurmd
SlurmdSpoolDir=$STATE/d-%n
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd-%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd-%n.log
# Both nodes are this machine: do not drain a node for declaring fewer CPUs than it has.
SlurmdParameters=config_overrides
SlurmctldDebug=info
SlurmdDebug=info
${NODE_LINES}PartitionName=debug Nodes=${NODES[0]},${NODES[1]} Default=YES MaxTime=INFINITE State=UP
CONF
$SUDO install -m 644 "$TMP_CONF" "$CONF"
rm -f "$TMP_CONF"
if [ "$FAKE_GPUS" -gt 0 ]; then
    # gres/gpu needs one existing device file per GPU (a count-only line registers 0 GPUs);
    # harmless character devices stand in for /dev/nvidiaN.
    # one pair of devices per node
    devices=(/dev/null /dev/zero /dev/full /dev/random)
    { echo "$MARKER"
      for i in 0 1; do
          for dev in "${devices[@]:$((2 * i)):$FAKE_GPUS}"; do echo "NodeName=${NODES[$i]} Name=gpu File=$dev"; done
      done
    } | $SUDO tee "$GRES_CONF" >/dev/null
elif [ -e "$GRES_CONF" ] && grep -qF "$MARKER" "$GRES_CONF"; then
    $SUDO rm -f "$GRES_CONF"
fi

running() { [ -s "$1" ] && $SUDO kill -0 "$(cat "$1")" 2>/dev/null; }

# 3. Daemons, each only if not already running.
$SUDO mkdir -p /run/munge && $SUDO chown munge:munge /run/munge
if ! running /run/munge/munged.pid; then
    if [ ! -s /etc/munge/munge.key ]; then
        $SUDO mungekey --create --force >/dev/null 2>&1 || $SUDO /usr/sbin/create-munge-key -f
        $SUDO chown munge:munge /etc/munge/munge.key
    fi
    log "starting munged"
    $SUDO runuser -u munge -- /usr/sbin/munged
fi
if ! running "$STATE/slurmctld.pid"; then
    log "starting slurmctld"
    $SUDO /usr/sbin/slurmctld -i   # -i: ignore state files of an earlier run of this cluster
else
    $SUDO scontrol reconfigure
fi
for node in "${NODES[@]}"; do
    if ! running "$STATE/slurmd-$node.pid"; then
        log "starting slurmd -N $node"
        $SUDO /usr/sbin/slurmd -N "$node"
    fi
done

# 4. Wait until both nodes are idle (or mixed/allocated: already usable).
deadline=$((SECONDS + WAIT_S))
for node in "${NODES[@]}"; do
    while :; do
        state="$(sinfo -h -n "$node" -o '%T' 2>/dev/null | head -n 1 || true)"
        case "$state" in
            idle|mixed|allocated) break ;;
            drain*|down*)
                # A node left down by an earlier run (or a test) comes back after `resume`.
                $SUDO scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "ERROR: node $node is '${state:-unreachable}' after ${WAIT_S}s; logs follow"
            $SUDO tail -n 30 "$STATE/log/slurmctld.log" "$STATE/log/slurmd-$node.log" >&2 || true
            exit 1
        fi
        sleep 1
    done
done
log "cluster up: $(sinfo -h -N -o '%P %N %T %c CPUs %m MB %G' | tr '\n' ';')"
