// `npm run test:loaded`: `npm test` beside a process that keeps one core busy, as on a shared
// machine or a CI runner with noisy neighbours. Tests that depend on scheduling (fixed sleeps,
// exact batch counts, tight deadlines) fail here first. Arguments go to vitest; the exit code
// is npm test's.
import { type ChildProcess, spawn } from 'node:child_process';

// The burner leaves on its own if this script dies without stopping it (its parent changes).
const BURN =
  'const p = process.ppid; for (let i = 0; ; i++) if ((i & 0xfffff) === 0 && process.ppid !== p) process.exit();';

const burner = spawn(process.execPath, ['-e', BURN], { stdio: 'ignore' });
const args = process.argv.slice(2);
const test: ChildProcess = spawn('npm', ['test', ...(args.length ? ['--', ...args] : [])], {
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => test.kill(signal));
}
const code = await new Promise<number>((resolve) => {
  test.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  test.on('error', () => resolve(1));
});
burner.kill();
process.exit(code);
