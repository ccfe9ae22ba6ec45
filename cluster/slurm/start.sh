#!/usr/bin/env bash
# Start a one-machine SLURM (munged, slurmctld, slurmd) for the integration tests.
#
#   sudo bash cluster/slurm/start.sh      # idempotent: does nothing if it is already up
#   sinfo                                 # -> debug* up infinite 1 idle localhost
#   sudo bash cluster/slurm/stop.sh       # stops what this script started, by PID
#
# No systemd is needed: the daemons are started directly. Everything this script writes
# (slurm.conf, state, spool, logs, PID files) lives in $NMM_SLURM_DIR (default
# /tmp/nmm-slurm); the generated slurm.conf is also installed as /etc/slurm/slurm.conf
# when that file is missing or was written by this script, so sinfo/sbatch find it. On a
# machine with its own SLURM the script refuses to touch /etc/slurm/slurm.conf.
#
# Environment:
#   NMM_SLURM_DIR         state folder (default /tmp/nmm-slurm)
#   NMM_SLURM_NO_INSTALL  set to 1 to never apt-get install missing packages
#   NMM_SLURM_TIMEOUT     seconds to wait for the node to become idle (default 60)
set -euo pipefail

DIR="${NMM_SLURM_DIR:-/tmp/nmm-slurm}"
TIMEOUT="${NMM_SLURM_TIMEOUT:-60}"
ETC_CONF=/etc/slurm/slurm.conf
MARKER="# written by nmm-sweeps cluster/slurm/start.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)

say() { echo "slurm/start.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

alive() {  # alive PIDFILE -> 0 when the PID in the file is a running process
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

[[ "$(id -u)" == 0 ]] || die "run as root (sudo bash $0): munged and slurmd need it."

# 1. packages -----------------------------------------------------------------
missing=()
for cmd in munged slurmctld slurmd sinfo; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
if ((${#missing[@]})); then
    [[ "${NMM_SLURM_NO_INSTALL:-0}" != 1 ]] && command -v apt-get >/dev/null \
        || die "missing ${missing[*]}; install the Debian packages ${PACKAGES[*]}."
    say "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${PACKAGES[@]}" >/dev/null; } \
        || die "apt-get install ${PACKAGES[*]} failed."
fi

# 2. slurm.conf -----------------------------------------------------------------
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
CPUS="$(nproc)"
MEM_MB="$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)"
MEM_MB=$((MEM_MB - MEM_MB / 10 > 512 ? MEM_MB - MEM_MB / 10 : 512))   # a bit under the total
cat > "$DIR/slurm.conf.new" <<CONF
$MARKER
ClusterName=nmm
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=60
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
mv "$DIR/slurm.conf.new" "$DIR/slurm.conf"
if [[ -e "$ETC_CONF" ]] && ! grep -qxF "$MARKER" "$ETC_CONF"; then
    die "$ETC_CONF exists and was not written by this script (a real SLURM?); not touching it."
fi
mkdir -p "$(dirname "$ETC_CONF")"
cp "$DIR/slurm.conf" "$ETC_CONF"
export SLURM_CONF="$ETC_CONF"

# 3. munged ---------------------------------------------------------------------
mkdir -p /run/munge /var/lib/munge /var/log/munge /etc/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge
chmod 0755 /run/munge
chmod 0700 /etc/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null; then
        mungekey --create --force --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if alive /run/munge/munged.pid; then
    say "munged already running (PID $(cat /run/munge/munged.pid))"
else
    rm -f /run/munge/munged.pid /run/munge/munge.socket.2*
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid \
        || die "munged did not start; see /var/log/munge/munged.log"
    touch "$DIR/munged.ours"   # stop.sh only stops a munged that this script started
fi

# 4. slurmctld, slurmd ---------------------------------------------------------
if alive "$DIR/slurmctld.pid"; then
    say "slurmctld already running (PID $(cat "$DIR/slurmctld.pid"))"
else
    slurmctld -f "$ETC_CONF" || die "slurmctld did not start; see $DIR/log/slurmctld.log"
fi
if alive "$DIR/slurmd.pid"; then
    say "slurmd already running (PID $(cat "$DIR/slurmd.pid"))"
else
    slurmd -N localhost -f "$ETC_CONF" || die "slurmd did not start; see $DIR/log/slurmd.log"
fi

# 5. wait for the node ---------------------------------------------------------
deadline=$((SECONDS + TIMEOUT))
state=""
while ((SECONDS < deadline)); do
    state="$(sinfo -h -n localhost -o %t 2>/dev/null | head -n1 || true)"
    case "$state" in
        idle|mix|alloc) say "up: node localhost is $state (state in $DIR)"; exit 0 ;;
        down*|drain*|drng*)  # a node left down by an earlier run comes back
            scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 1
done
die "node localhost not idle after ${TIMEOUT}s (state: '${state:-no answer}'); logs in $DIR/log/"
