import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const onCpuMs = (schedstat: string) => Number(schedstat.split(' ')[0]) / 1e6;

/**
 * CPU time of the calling thread so far, in ms: the scheduler's own count on Linux
 * (`/proc/thread-self/schedstat`, nanoseconds on the CPU), so a busy machine does not inflate
 * it as wall-clock measures are. Elsewhere the event loop's active time stands in for it.
 */
export function threadCpuMs(): number {
  try {
    return onCpuMs(readFileSync('/proc/thread-self/schedstat', 'utf8'));
  } catch {
    return performance.eventLoopUtilization().active;
  }
}

/**
 * The calling thread's id in the OS (Linux), by which processThreadsCpuMs lists it (a worker
 * posts it to its parent); undefined elsewhere.
 */
export function osThreadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

/**
 * CPU time so far of every thread of this process, by OS id (Linux; empty elsewhere). Threads
 * that ended are missing from it: compare two snapshots thread by thread.
 */
export function processThreadsCpuMs(): Map<number, number> {
  const cpu = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return cpu;
  }
  for (const tid of tids) {
    try {
      cpu.set(Number(tid), onCpuMs(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8')));
    } catch {
      // ended meanwhile
    }
  }
  return cpu;
}
