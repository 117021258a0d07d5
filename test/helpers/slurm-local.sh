#!/usr/bin/env bash
# A real single-node Slurm for the cluster tests, without systemd (../shared/NOTES-environment.md):
#   bash test/helpers/slurm-local.sh start DIR   -> munged, slurmctld, slurmd; prints SLURM_CONF=DIR/slurm.conf
#   bash test/helpers/slurm-local.sh stop DIR
# Needs root and Debian's munge slurmctld slurmd slurm-client (CI installs them).
set -euo pipefail
ACTION=$1; T=$(realpath -m "$2")
HOST=$(hostname -s)
if [ "$ACTION" = stop ]; then
  for p in slurmd slurmctld munged; do [ -f "$T/$p.pid" ] && kill "$(cat "$T/$p.pid")" 2>/dev/null || true; done
  sleep 1
  for p in slurmd slurmctld munged; do [ -f "$T/$p.pid" ] && kill -9 "$(cat "$T/$p.pid")" 2>/dev/null || true; done
  exit 0
fi
mkdir -p "$T/state" "$T/spool" "$T/log"
[ -f "$T/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$T/munge.key" 2>/dev/null; chmod 400 "$T/munge.key"; }
munged --force -S "$T/munge.socket.2" --key-file "$T/munge.key" --pid-file "$T/munged.pid" --log-file "$T/log/munged.log" --seed-file "$T/munge.seed"
cat > "$T/slurm.conf" <<CONF
ClusterName=emsegci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge.socket.2
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=2000
PartitionName=debug Nodes=ALL Default=YES State=UP MaxTime=INFINITE
CONF
echo "CgroupPlugin=cgroup/v1" > "$T/cgroup.conf"
export SLURM_CONF=$T/slurm.conf
slurmctld -f "$T/slurm.conf"
slurmd -f "$T/slurm.conf"
for _ in $(seq 1 60); do
  if sinfo -h -o %t 2>/dev/null | grep -q idle; then echo "SLURM_CONF=$T/slurm.conf"; exit 0; fi
  sleep 1
done
echo "slurm did not come up; logs in $T/log" >&2
tail -20 "$T/log/"*.log >&2 || true
exit 1
