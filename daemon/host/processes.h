/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Ends every process of uid at once: sends SIGKILL to every process whose
 * real or saved uid is uid (exactly the processes that uid itself could signal), and
 * repeats until none is left, so that children forked meanwhile go too.
 * *ret_ended is the number of processes that were seen alive and are gone
 * now. uid 0 is refused; the caller must also never pass a uid a local
 * account has. */
int processes_terminate_uid(uint32_t uid, unsigned *ret_ended);

/* The start time of a process (field 22 of /proc/PID/stat): with the pid,
 * what tells it apart from a later process that reuses the pid. */
int process_start_time(uint32_t pid, uint64_t *ret);
bool process_alive(uint32_t pid, uint64_t start);
/* SIGKILL to that very process, if it still runs; 1 when signalled. */
int process_kill(uint32_t pid, uint64_t start);
