// Reads sample message files (message envelopes) and validates them like a producer would.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type Message, parseMessage } from '../../shared/contracts/messages.ts';
import { REPO_ROOT } from '../runtime/lambda-pool.ts';

export interface EventFile {
  file: string;
  message: Message;
}

/** Files and directories (their `*.json`, sorted) to validated messages; throws on the first bad one. */
export function loadEvents(paths: string[]): EventFile[] {
  const files = paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => join(p, f))
      : [p],
  );
  return files.map((file) => {
    const parsed = parseMessage(readFileSync(file, 'utf8'));
    if (!parsed.ok) throw new Error(`${relative(REPO_ROOT, file) || file}: ${parsed.reason}`);
    return { file, message: parsed.message };
  });
}

export const SCENARIO_DIR = join(REPO_ROOT, 'events', 'shard-create');
/** Workspace events of the sample locations (one of them is deleted again). */
export const WORKSPACES_DIR = join(REPO_ROOT, 'events', 'workspaces');
