#!/usr/bin/env bash
# Stop the one-machine SLURM started by cluster/slurm/start.sh, by PID from its PID files:
# slurmd, then slurmctld, then munged (only when start.sh started it). Idempotent.
set -uo pipefail

DIR="${NMM_SLURM_DIR:-/tmp/nmm-slurm}"

say() { echo "slurm/stop.sh: $*" >&2; }

stop_pidfile() {  # stop_pidfile NAME PIDFILE: SIGTERM, wait up to 15 s, then SIGKILL
    local name="$1" file="$2" pid
    [[ -s "$file" ]] || return 0
    pid="$(cat "$file")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name (PID $pid) ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        say "stopped $name (PID $pid)"
    fi
    rm -f "$file"
}

stop_pidfile slurmd "$DIR/slurmd.pid"
stop_pidfile slurmctld "$DIR/slurmctld.pid"
if [[ -e "$DIR/munged.ours" ]]; then
    stop_pidfile munged /run/munge/munged.pid
    rm -f "$DIR/munged.ours"
fi
exit 0
