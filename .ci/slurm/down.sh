#!/usr/bin/env bash
# Stop the SLURM test cluster started by .ci/slurm/up.sh (its jobs, slurmd, slurmctld, munged).
# Leaves the packages and /etc/slurm/slurm.conf in place, so up.sh restarts quickly.
set -uo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
STATE=/var/lib/sstsal-ci-slurm
MARKER="# written by sstsal-pipeline .ci/slurm/up.sh"
if ! grep -qsF "$MARKER" /etc/slurm/slurm.conf; then
    echo "[slurm-down] /etc/slurm/slurm.conf was not written by up.sh: not touching this cluster" >&2
    exit 0
fi
command -v scancel >/dev/null && $SUDO scancel --full --quiet --user=root 2>/dev/null || true

stop() {  # stop <pid file> <name>: TERM the daemon of that pid file and wait for it to exit
    local pidfile=$1 name=$2 pid
    [ -s "$pidfile" ] || return 0
    pid="$(cat "$pidfile")"
    if $SUDO kill -0 "$pid" 2>/dev/null; then
        echo "[slurm-down] stopping $name ($pid)" >&2
        $SUDO kill -TERM "$pid"
        for _ in $(seq 1 30); do $SUDO kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    $SUDO rm -f "$pidfile"
}
for pidfile in "$STATE"/slurmd-*.pid "$STATE/slurmd.pid"; do stop "$pidfile" "slurmd ($(basename "$pidfile" .pid))"; done
stop "$STATE/slurmctld.pid" slurmctld
stop /run/munge/munged.pid munged
exit 0
