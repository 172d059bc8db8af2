import { readFileSync } from 'node:fs';

/**
 * CPU time of the calling thread so far, in ms: the scheduler's own count on Linux
 * (`/proc/thread-self/schedstat`, nanoseconds on the CPU), so a busy machine does not inflate
 * it as wall-clock measures are. Elsewhere the event loop's active time stands in for it.
 */
export function threadCpuMs(): number {
  try {
    const [onCpuNs] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return Number(onCpuNs) / 1e6;
  } catch {
    return performance.eventLoopUtilization().active;
  }
}
