// What a command module needs: the action contract, results with an exit code, and argument
// parsers whose errors are usage errors. Command modules register without loading the AWS SDK
// or the data layer (help, version and usage errors stay cheap): an action imports the
// operations it runs (`await import('../dlq.ts')`) when it runs.
import { type Command, InvalidArgumentError } from 'commander';
import type { Target } from './target.ts';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export interface GlobalOptions {
  stage?: string;
  local?: boolean;
  output?: 'json' | 'table';
  profile?: string;
  region?: string;
  scheduleName?: string;
}

/** What an action returns when it needs more than "print this, exit 0". */
export class Outcome {
  constructor(
    readonly data: unknown,
    readonly exitCode: number = EXIT.ok,
  ) {}
}

export interface Context {
  /** This command's own options, parsed. */
  options: Record<string, unknown>;
  /** This command's arguments, parsed (a variadic one is an array). */
  args: unknown[];
  /**
   * The stage or local stack the global options point at, created on first use: that loads the
   * AWS SDK, so an action calls it after its own usage checks.
   */
  target(): Promise<Target>;
  /** A line for people, on stderr (stdout is for the result). */
  notice(line: string): void;
  /** A progress line, rewritten in place on a terminal; nothing when stderr is not one. */
  progress(line: string): void;
  /** Fails as a usage error: exit code 2 and the command's help on stderr. */
  usageError(message: string): never;
}

export type Action = (context: Context) => Promise<unknown>;

export interface Cli {
  /** Attaches an action: its result is printed as a table or as one JSON document. */
  action(command: Command, action: Action): Command;
}

/** A command group registers its commands on the program (see ./commands/index.ts). */
export type CommandGroup = (program: Command, cli: Cli) => void;

export const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('a positive whole number');
  return n;
};

export const isoTime = (value: string) => {
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new InvalidArgumentError('an ISO-8601 time, e.g. 2026-11-22T10:00:00Z');
  return at;
};
