// `npm start` as operators and supervisors run it: a signal sent to the npm process alone (a
// supervisor that kills only its child, `docker stop`, systemd's KillMode=process) must stop the
// whole stack and free its ports, not leave the stack running without its parent.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../local/runtime/lambda-pool.ts';
import { PORT_ENV } from '../../../local/stack.ts';
import { waitFor } from '../../integration/support.ts';

const started: ChildProcess[] = [];
afterAll(() => {
  // Whatever a failed test left running: the whole process group.
  for (const child of started) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Every process below `pid` (Linux /proc), by pid. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may contain spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // ended meanwhile
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const accepts = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

async function startStack() {
  const child = spawn('npm', ['start', '--', '--no-demo', '--quiet'], {
    cwd: REPO_ROOT,
    // Its own process group, so that only the signal the test sends reaches it.
    detached: true,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.values(PORT_ENV).map((name) => [name, '0'])),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  await waitFor('the stack up', () => output.includes('running; Ctrl-C to stop'), 120_000);
  const urls = [...output.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map((m) => m[0]);
  return { child, urls, exited, output: () => output };
}

describe('npm start', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops the whole stack and frees its ports on ${signal} to the npm process alone`, async () => {
      const { child, urls, exited, output } = await startStack();
      const processes = descendants(child.pid!);
      expect(processes.length).toBeGreaterThan(0);
      expect(urls.length).toBeGreaterThan(3);
      expect(await accepts(urls[0]!)).toBe(true);

      child.kill(signal);
      const gaveUp = new Promise<string>((resolve) =>
        setTimeout(() => resolve('still running 30 s after the signal'), 30_000).unref(),
      );
      expect(await Promise.race([exited, gaveUp]), output()).toBe(0);
      await waitFor(
        'every process of the stack gone',
        () => processes.every((pid) => !alive(pid)),
        30_000,
      );
      for (const url of urls) expect(await accepts(url), url).toBe(false);
      expect(output()).toContain('shutting down');
    }, 180_000);
  }
});
