#!/usr/bin/env bash
# A local single-node SLURM cluster (Slurm 22.05 from Debian) with two fake GPUs, for the SLURM
# tests (tests/test_slurm.py) and for trying `snakemake --profile slurm` without a real cluster.
#
#   scripts/slurm-cluster.sh start    install the packages if missing, write the config, start
#                                     munged/slurmctld/slurmd, wait until the node is idle
#   scripts/slurm-cluster.sh stop     cancel the cluster's jobs, stop the daemons it started (by
#                                     PID), remove the config files it wrote under /etc/slurm
#   scripts/slurm-cluster.sh status   exit 0 and print the node when the cluster is up, else exit 1
#
# Needs root (packages, daemons, /etc/slurm) and Debian/Ubuntu apt; exits 2 with the reason when
# either is missing, so callers can skip. No systemd and no cgroups needed.
#
# Layout: cluster state, spool, logs and PID files live under $SEGSWEEP_SLURM_DIR
# (default /tmp/segsweep-slurm), wiped at every start. slurm.conf and gres.conf are written to
# /etc/slurm/ (marked as ours; a config this script did not write is never touched), because job
# steps started by the plugin drop SLURM_CONF and read the default location.
#   node      localhost, with the machine's CPU count and 90 % of its memory
#   GPUs      Gres=gpu:2 backed by symlinks to /dev/null: `--gpus=1` is scheduled and sets
#             CUDA_VISIBLE_DEVICES; software finds no GPU there and runs on the CPU
#   partitions  cpu (default) and gpu, both on that node
#   accounting  none (no slurmdbd): use the plugin's `squeue` status command; MinJobAge=600 keeps
#             finished jobs visible to squeue/scontrol; every finished job is also appended to
#             $SEGSWEEP_SLURM_DIR/log/jobcomp.log (JobId, JobState, TimeLimit, Tres, ...)
set -euo pipefail

DIR=${SEGSWEEP_SLURM_DIR:-/tmp/segsweep-slurm}
CONF_DIR=/etc/slurm
MARKER="# written by segsweep scripts/slurm-cluster.sh"
PIDS=$DIR/pids
NODE=localhost

log() { printf 'slurm-cluster: %s\n' "$*" >&2; }
die() { log "$2"; exit "$1"; }

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# The node is up when slurmctld answers and reports our node in a usable state.
node_state() { timeout 10 sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -1; }

is_up() {
    [[ -f $PIDS ]] || return 1
    local name pid
    while read -r name pid _; do
        case $name in slurmctld | slurmd) pid_alive "$pid" || return 1 ;; esac
    done <"$PIDS"
    case $(node_state) in idle* | mixed* | allocated* | completing*) return 0 ;; *) return 1 ;; esac
}

ours() { [[ ! -e $1 ]] || grep -qF "$MARKER" "$1"; }

check_prerequisites() {
    [[ $(id -u) -eq 0 ]] || die 2 "needs root (installs packages, starts daemons, writes $CONF_DIR)"
    local missing=()
    command -v munged >/dev/null || [[ -x /usr/sbin/munged ]] || missing+=(munge)
    [[ -x /usr/sbin/slurmctld ]] || missing+=(slurmctld)
    [[ -x /usr/sbin/slurmd ]] || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    if ((${#missing[@]})); then
        command -v apt-get >/dev/null || die 2 "packages missing (${missing[*]}) and no apt-get to install them"
        log "installing ${missing[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
            apt-get update -qq >&2 || die 2 "apt-get update failed"
        fi
        apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >&2 ||
            { apt-get update -qq >&2 &&
                apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >&2; } ||
            die 2 "apt-get install of munge slurmctld slurmd slurm-client failed"
    fi
}

write_config() {
    local cpus mem_mb def_mem
    cpus=$(nproc)
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    def_mem=$((mem_mb / cpus < 1000 ? mem_mb / cpus : 1000))
    mkdir -p "$CONF_DIR" "$DIR"/{state,spool,log,run,dev}
    ln -sfn /dev/null "$DIR/dev/gpu0"
    ln -sfn /dev/null "$DIR/dev/gpu1"
    cat >"$CONF_DIR/slurm.conf" <<EOF
$MARKER (local test cluster; state in $DIR)
ClusterName=segsweep
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups, no systemd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
GresTypes=gpu
# no slurmdbd: squeue/scontrol know finished jobs for MinJobAge seconds; jobcomp keeps a record
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
KillWait=5
MailProg=/bin/true
InactiveLimit=0
Waittime=0
NodeName=$NODE CPUs=$cpus RealMemory=$mem_mb Gres=gpu:2 State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
    cat >"$CONF_DIR/gres.conf" <<EOF
$MARKER
NodeName=$NODE Name=gpu File=$DIR/dev/gpu[0-1]
EOF
    log "config: $cpus CPUs, ${mem_mb} MB, 2 fake GPUs, partitions cpu (default) and gpu"
}

start_munge() {
    if timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1; then
        log "munged already running; using it"
        return
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged --force </dev/null >/dev/null 2>&1
    local i
    for i in $(seq 50); do
        if [[ -s /run/munge/munged.pid ]] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
            echo "munged $(cat /run/munge/munged.pid)" >>"$PIDS"
            return
        fi
        sleep 0.1
    done
    die 1 "munged did not start"
}

wait_pidfile() { # name file
    local i
    for i in $(seq 100); do
        if [[ -s $2 ]] && pid_alive "$(cat "$2")"; then
            echo "$1 $(cat "$2")" >>"$PIDS"
            return
        fi
        sleep 0.1
    done
    die 1 "$1 did not start; see $DIR/log/$1.log"
}

cmd_start() {
    check_prerequisites
    if is_up; then
        log "already running (state in $DIR)"
        return 0
    fi
    [[ ! -f $PIDS ]] || cmd_stop # half-started leftovers of an earlier start
    for f in "$CONF_DIR/slurm.conf" "$CONF_DIR/gres.conf"; do
        ours "$f" || die 2 "$f exists and was not written by this script; refusing to replace it"
    done
    if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
        die 2 "a slurmctld or slurmd this script did not start is running; stop it first"
    fi
    local t0=$SECONDS
    rm -rf "${DIR:?}"/{state,spool,log,run,dev}
    rm -f "$PIDS"
    write_config
    : >"$PIDS"
    start_munge
    /usr/sbin/slurmctld -i </dev/null >>"$DIR/log/slurmctld.out" 2>&1
    wait_pidfile slurmctld "$DIR/run/slurmctld.pid"
    /usr/sbin/slurmd -N "$NODE" </dev/null >>"$DIR/log/slurmd.out" 2>&1
    wait_pidfile slurmd "$DIR/run/slurmd.pid"
    local i pid state=
    for i in $(seq 120); do
        for pid in $(awk '$1 ~ /^slurm/ {print $2}' "$PIDS"); do
            pid_alive "$pid" || die 1 "a SLURM daemon exited: $(tail -n 3 "$DIR"/log/slurm*.log | grep -E 'fatal|error' | tail -n 1)"
        done
        state=$(node_state)
        case $state in
            idle*) break ;;
            drain* | down*) timeout 10 scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.25
    done
    [[ $state == idle* ]] || die 1 "node $NODE is '${state:-unknown}', not idle; see $DIR/log/"
    log "up in $((SECONDS - t0)) s: node $NODE idle (state and logs in $DIR)"
}

cmd_stop() {
    [[ -f $PIDS ]] || { log "not started by this script (no $PIDS)"; rm_config; return 0; }
    # Jobs first: slurmstepd outlives slurmd, so cancel and wait while the daemons still run.
    local ids i
    ids=$(timeout 10 squeue -h -o %A 2>/dev/null || true)
    if [[ -n $ids ]]; then
        # shellcheck disable=SC2086
        timeout 10 scancel $ids 2>/dev/null || true
        for i in $(seq 40); do
            [[ -z $(timeout 10 squeue -h -t R,CG,PD -o %A 2>/dev/null || true) ]] && break
            sleep 0.25
        done
    fi
    local name pid
    # stop in reverse start order: slurmd, slurmctld, munged
    while read -r name pid _; do
        pid_alive "$pid" || continue
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
        pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
        log "stopped $name ($pid)"
    done < <(tac "$PIDS")
    rm -f "$PIDS"
    rm_config
}

# An /etc/slurm/slurm.conf pointing at a stopped controller makes every `snakemake` start slow
# (the plugin runs `scontrol show config` when it loads), so remove ours when stopping.
rm_config() {
    local f
    for f in "$CONF_DIR/slurm.conf" "$CONF_DIR/gres.conf"; do
        [[ -e $f ]] && ours "$f" && rm -f "$f"
    done
    return 0
}

cmd_status() {
    if is_up; then
        timeout 10 sinfo -N -o '%N %P %T %c %m %G' || true
        return 0
    fi
    log "not running"
    return 1
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die 64 "usage: $0 start|stop|status" ;;
esac
