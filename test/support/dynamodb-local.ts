// AWS's DynamoDB Local (a Java server) as a child process: the fidelity reference for the
// in-process dynalite emulator. Installed by `npm run setup:dynamodb-local`.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DYNAMODB_LOCAL_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../.local/dynamodb-local',
);

export interface DynamoDbLocal {
  url: string;
  port: number;
  /** Milliseconds from spawning the JVM to the first answered ListTables. */
  startMs: number;
  stop(): Promise<void>;
}

/** Why DynamoDB Local cannot run here, or undefined when it can. */
export function dynamoDbLocalUnavailableReason(): string | undefined {
  // Lets a quick local run skip the JVM; CI sets DYNAMODB_LOCAL_REQUIRED instead.
  if (process.env.DYNAMODB_LOCAL_DISABLED === '1') return 'disabled by DYNAMODB_LOCAL_DISABLED=1';
  if (!existsSync(join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal.jar'))) {
    return `no DynamoDBLocal.jar in ${DYNAMODB_LOCAL_DIR} (run: npm run setup:dynamodb-local)`;
  }
  const java = spawnSync('java', ['-version'], { stdio: 'ignore', timeout: 30_000 });
  if (java.error || java.status !== 0) {
    return `\`java -version\` failed (${java.error?.message ?? `exit ${java.status}`}); install a Java 17 runtime`;
  }
  return undefined;
}

/**
 * Starts DynamoDB Local in memory on a free port and resolves once it answers ListTables.
 * -sharedDb makes every credential and region see the same tables, as dynalite does (by
 * default DynamoDB Local keeps one database per access key and region).
 */
export async function startDynamoDbLocal(
  opts: { readyDeadlineMs?: number } = {},
): Promise<DynamoDbLocal> {
  const deadline = Date.now() + (opts.readyDeadlineMs ?? 120_000);
  let lastError: Error | undefined;
  // The free port is released before Java binds it; another process may take it meanwhile.
  for (let attempt = 0; attempt < 3 && Date.now() < deadline; attempt++) {
    const port = await freePort();
    const started = Date.now();
    // The JVM runs under a shell that kills it when our end of its stdin closes, which happens
    // however this process ends (even SIGKILL), so no JVM outlives the test run. Its own
    // process group lets stop() signal the shell, the JVM and the watcher together.
    const child = spawn(
      'sh',
      [
        '-c',
        // fd 3: background jobs of a non-interactive shell get /dev/null as stdin.
        'exec 3<&0; java "$@" </dev/null & pid=$!; (cat <&3 >/dev/null; kill $pid 2>/dev/null) >/dev/null 2>&1 & wait $pid',
        'dynamodb-local',
        // A short-lived JVM answering a few hundred requests: the C1 compiler alone and the
        // serial collector halve its start-up (6 s -> 3 s of CPU on two cores).
        '-XX:TieredStopAtLevel=1',
        '-XX:+UseSerialGC',
        `-Djava.library.path=${join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal_lib')}`,
        '-jar',
        join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal.jar'),
        '-inMemory',
        '-sharedDb',
        '-disableTelemetry',
        '-port',
        String(port),
      ],
      { cwd: DYNAMODB_LOCAL_DIR, stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const killOnExit = () => signalGroup(child, 'SIGKILL');
    process.once('exit', killOnExit);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilReady(url, child, deadline, () => output);
      return {
        url,
        port,
        startMs: Date.now() - started,
        stop: async () => {
          process.off('exit', killOnExit);
          await stopChild(child);
        },
      };
    } catch (err) {
      process.off('exit', killOnExit);
      await stopChild(child);
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('DynamoDB Local did not start before its deadline');
}

async function waitUntilReady(
  url: string,
  child: ChildProcess,
  deadline: number,
  output: () => string,
): Promise<void> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`DynamoDB Local exited while starting:\n${output()}`);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          // DynamoDB Local checks the shape of the signature, not its value.
          authorization:
            'AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
          'x-amz-date': '20240101T000000Z',
        },
        body: '{}',
        signal: AbortSignal.timeout(Math.max(1000, Math.min(10_000, deadline - Date.now()))),
      });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    // Polling interval, not a wait for an outcome: the deadline bounds the loop.
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`DynamoDB Local did not answer ListTables at ${url} in time:\n${output()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  child.stdin?.end();
  if (child.exitCode !== null || child.signalCode !== null) {
    signalGroup(child, 'SIGKILL');
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Signals the shell, the JVM and the watcher (one process group); gone already is fine. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group has exited.
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
