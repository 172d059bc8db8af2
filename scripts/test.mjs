// `npm test`: typecheck, lint and vitest side by side rather than one after the other (the
// suite leaves part of the second core idle while its integration files wait, and the checks
// take about 6 s). The checks' output is printed whole when each ends, so it does not
// interleave with vitest's; the exit code is the first failure's. Arguments go to vitest.
import { spawn } from 'node:child_process';

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;

function run(name, command, args, { buffered }) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: buffered ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    let output = '';
    if (buffered) {
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
    }
    child.on('error', (error) => {
      console.error(`${name}: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      const status = code ?? (signal ? 1 : 0);
      if (buffered) {
        process.stdout.write(`\n== ${name}: ${status === 0 ? 'ok' : `FAILED (exit ${status})`}\n`);
        if (status !== 0 || output.trim()) process.stdout.write(output);
      }
      resolve(status);
    });
  });
}

const codes = await Promise.all([
  run('typecheck (tsc --noEmit)', bin('tsc'), ['--noEmit'], { buffered: true }),
  run('lint (biome check .)', bin('biome'), ['check', '.'], { buffered: true }),
  run('vitest', bin('vitest'), ['run', ...process.argv.slice(2)], { buffered: false }),
]);
process.exit(codes.find((code) => code !== 0) ?? 0);
