# cpu_groups.sh — sourced by the bench scripts that run PostgreSQL beside tessera: puts the
# database, the servers under test and the load generator each in a CPU cgroup of its own,
# as a service manager (systemd with the cpu controller, a container runtime) runs them.
#
# Why: left to itself, the kernel schedules by session when kernel.sched_autogroup_enabled is
# 1 (the Linux default), and every PostgreSQL backend calls setsid(), so each backend is a
# scheduling group of its own beside one group holding tessera and wrk. On this machine's
# kernel (6.18) single backends then wait up to 0.2-0.5 s to run while others do, which is
# the whole of the list's p99 at 8 connections (docs/PERFORMANCE.md, "The tail at pool_max
# 20"). In a cgroup other than the root one the autogroup does not apply.
#
# Needs a writable cgroup-v1 cpu hierarchy (root); otherwise everything stays as it is and
# cpu_groups_describe says so. Functions:
#   cpu_groups_init              create the groups; this shell (and what it starts) joins "client"
#   cpu_group_move GROUP PID...  move processes (all their threads) into db, server or client
#   cpu_group_to_root PID...     back to the root group (the autogroup applies again)
#   cpu_groups_release           everything back to the root group, the groups removed
#   cpu_groups_describe          one line for the bench output
#   autogroup_state              1 when the kernel's autogroup is on, else 0
# Its own variables all start with cg_: the scripts that source it keep theirs (dir, pids...).
CPU_CG_ROOT=/sys/fs/cgroup/cpu
CPU_CG=""

cpu_groups_init() {
  [ -w "$CPU_CG_ROOT/cgroup.procs" ] && [ -f "$CPU_CG_ROOT/cpu.shares" ] || return 0
  cg_base="$CPU_CG_ROOT/tessera-bench-$$"
  mkdir -p "$cg_base/db" "$cg_base/server" "$cg_base/client" 2>/dev/null || return 0
  CPU_CG=$cg_base
  echo $$ > "$CPU_CG/client/cgroup.procs"
}

cpu_group_write() { # cgroup-directory pid...
  cg_dir=$1; shift
  for cg_pid in "$@"; do echo "$cg_pid" > "$cg_dir/cgroup.procs" 2>/dev/null || true; done
}

cpu_group_move() { # group pid...
  [ -n "$CPU_CG" ] || return 0
  cg_group=$1; shift
  cpu_group_write "$CPU_CG/$cg_group" "$@"
}

cpu_group_to_root() { # pid...
  [ -n "$CPU_CG" ] || return 0
  cpu_group_write "$CPU_CG_ROOT" "$@"
}

cpu_groups_release() {
  [ -n "$CPU_CG" ] || return 0
  for cg_group in db server client; do
    # shellcheck disable=SC2046
    cpu_group_to_root $(cat "$CPU_CG/$cg_group/cgroup.procs" 2>/dev/null)
    rmdir "$CPU_CG/$cg_group" 2>/dev/null || true
  done
  rmdir "$CPU_CG" 2>/dev/null || true
  CPU_CG=""
}

autogroup_state() { cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0; }

cpu_groups_describe() {
  if [ -n "$CPU_CG" ]; then
    echo "CPU groups: PostgreSQL, the servers and wrk each in a cgroup of its own (autogroup $(autogroup_state) does not apply)"
  else
    echo "CPU groups: none (no writable cgroup-v1 cpu hierarchy); kernel.sched_autogroup_enabled = $(autogroup_state)"
  fi
}
