/* cpu — how many CPUs this process may use, for sizing worker pools and slots. */
#ifndef TESSERA_CPU_H
#define TESSERA_CPU_H

/* The CPUs in this process's affinity mask (taskset, cgroup cpusets), not all the machine
 * has; at least 1. */
int cpu_count_usable(void);
#endif
