#!/usr/bin/env bash
# Bring up a real one-node SLURM cluster on this machine, for CI and for trying the SLURM profile.
#
#   .ci/slurm/up.sh     # installs Debian's slurm-wlm + munge if missing, starts the daemons
#   .ci/slurm/down.sh   # stops them again
#
# What it sets up: munged, slurmctld and slurmd on this host; one partition `debug` holding this
# node with its real CPUs and memory (from `slurmd -C`); SelectType=select/cons_tres with
# CPUs and memory as consumables; no accounting database (so status queries must use squeue,
# hence MinJobAge is long enough for that); and SSTSAL_SLURM_GPUS (default 2, at most 5) stand-in
# GPUs (GRES backed by /dev/null, /dev/zero, ...) so that the profile's `gpu: 1` requests go
# through SLURM's GRES scheduling exactly as on a GPU cluster. They are bookkeeping only: the jobs
# run on the CPU when there is no CUDA.
# Needs root (or sudo). Idempotent: run it again and it only (re)starts what is not running.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
FAKE_GPUS="${SSTSAL_SLURM_GPUS:-2}"
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
# `slurmd -C` prints this node's line as slurmd itself will detect it; RealMemory must not exceed
# it or slurmd drains the node.
NODE_LINE="$(slurmd -C | head -n 1)"
case "$NODE_LINE" in NodeName=*) ;; *) log "ERROR: slurmd -C printed: $NODE_LINE"; exit 1 ;; esac
GRES_LINE=""
if [ "$FAKE_GPUS" -gt 0 ]; then GRES_LINE="Gres=gpu:$FAKE_GPUS"; fi
$SUDO mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$STATE/log"
TMP_CONF="$(mktemp)"
cat >"$TMP_CONF" <<CONF
$MARKER
# One-node throw-away cluster for CI; see .ci/slurm/up.sh.
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
ReturnToService=2
KillWait=5
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$NODE_LINE $GRES_LINE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
$SUDO install -m 644 "$TMP_CONF" "$CONF"
rm -f "$TMP_CONF"
if [ "$FAKE_GPUS" -gt 0 ]; then
    # gres/gpu needs one existing device file per GPU (a count-only line registers 0 GPUs);
    # harmless character devices stand in for /dev/nvidiaN.
    devices=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom)
    if [ "$FAKE_GPUS" -gt "${#devices[@]}" ]; then
        log "ERROR: SSTSAL_SLURM_GPUS=$FAKE_GPUS; at most ${#devices[@]} stand-in GPUs"; exit 1
    fi
    { echo "$MARKER"
      for dev in "${devices[@]:0:$FAKE_GPUS}"; do echo "NodeName=$HOST Name=gpu File=$dev"; done
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
if ! running "$STATE/slurmd.pid"; then
    log "starting slurmd"
    $SUDO /usr/sbin/slurmd
fi

# 4. Wait until the node is idle (or mixed/allocated: already usable).
deadline=$((SECONDS + WAIT_S))
while :; do
    state="$(sinfo -h -n "$HOST" -o '%T' 2>/dev/null | head -n 1 || true)"
    case "$state" in
        idle|mixed|allocated) break ;;
        drain*|down*)
            # A node left down by an earlier run comes back after `resume`.
            $SUDO scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    if [ "$SECONDS" -ge "$deadline" ]; then
        log "ERROR: node $HOST is '${state:-unreachable}' after ${WAIT_S}s; logs follow"
        $SUDO tail -n 30 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
        exit 1
    fi
    sleep 1
done
log "cluster up: $(sinfo -h -o '%P %D %T %c CPUs %m MB %G')"
