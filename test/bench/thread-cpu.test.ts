import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { osThreadId, processThreadsCpuMs, threadCpuMs } from '../../bench/support/thread-cpu.ts';

const linux = process.platform === 'linux';

describe.runIf(linux)('per-thread CPU time', () => {
  it('lists the calling thread by its OS id, with the CPU time it spends', () => {
    const tid = osThreadId();
    expect(tid).toBeGreaterThan(0);
    const before = processThreadsCpuMs().get(tid as number) as number;
    const own = threadCpuMs();
    // Busy for 30 ms of CPU time (not wall time: the machine may be shared).
    while (threadCpuMs() - own < 30) {
      // busy
    }
    const spent = (processThreadsCpuMs().get(tid as number) as number) - before;
    expect(spent).toBeGreaterThanOrEqual(30);
    expect(spent - (threadCpuMs() - own)).toBeLessThan(5);
  });

  it('tells a worker thread apart by the id it posts', async () => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
       parentPort.postMessage(tid);
       const cpu = () => Number(require('node:fs').readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
       // 'on', not 'once': the listener keeps the thread alive (and listed) until terminate().
       parentPort.on('message', () => {
         const start = cpu();
         while (cpu() - start < 40) {}
         parentPort.postMessage('done');
       });`,
      { eval: true },
    );
    try {
      const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
      expect(tid).not.toBe(osThreadId());
      const before = processThreadsCpuMs();
      worker.postMessage('go');
      await new Promise((resolve) => worker.once('message', resolve));
      const after = processThreadsCpuMs();
      expect((after.get(tid) as number) - (before.get(tid) as number)).toBeGreaterThanOrEqual(40);
    } finally {
      await worker.terminate();
    }
  });
});
