// The command line itself: global options, output (table or JSON), exit codes and errors that
// say what to do next. Command groups live in ./commands/, one small module each.
import { Command, CommanderError, Option } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { type Cli, type Context, EXIT, type GlobalOptions, Outcome } from './command.ts';
import { COMMAND_GROUPS } from './commands/index.ts';
import { renderTable } from './render.ts';
import type { Target } from './target.ts';

function buildProgram(state: { target?: Target; exitCode: number; format?: string }) {
  const program = new Command('shardctl')
    .description(
      'Operate shard-control: status, dead-letter queues, reconciliation, shards, keys.\n' +
        'Points at a deployed stage (--stage, AWS credentials as for the AWS CLI) or at the local stack (--local).',
    )
    .version(packageJson.version, '-V, --version', 'print the version')
    .option('-s, --stage <stage>', 'deployed stage (or env STAGE)')
    .option('-l, --local', 'the local stack (`npm start`) instead of AWS')
    .addOption(
      new Option(
        '-o, --output <format>',
        'json or table (default: table on a terminal, else json)',
      ).choices(['json', 'table']),
    )
    .option('--profile <name>', 'AWS profile (as AWS_PROFILE)')
    .option('--region <region>', 'AWS region (as AWS_REGION)')
    .option(
      '--schedule-name <name>',
      'the sweep schedule, if not shard-control-<stage>-reconcile-sweep',
    )
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });

  const cli: Cli = {
    action(command, action) {
      return command.action(async (...params: unknown[]) => {
        const self = params.at(-1) as Command;
        const global = self.optsWithGlobals() as GlobalOptions;
        state.format = global.output ?? (process.stdout.isTTY ? 'table' : 'json');
        const usageError = (message: string): never =>
          self.error(`error: ${message}`, { exitCode: EXIT.usage });
        const context: Context = {
          options: self.opts(),
          args: self.processedArgs,
          target: async () => {
            if (!global.local && !global.stage && !process.env.STAGE)
              usageError('say which stage: --stage <name>, STAGE=<name>, or --local');
            if (!state.target) {
              // The SDK clients: loaded by the first action that needs them, never for help.
              const { createTarget } = await import('./target.ts');
              state.target ??= createTarget(global);
            }
            return state.target;
          },
          notice: (line) => process.stderr.write(`${line}\n`),
          progress: (line) => {
            if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
          },
          usageError,
        };
        const result = await action(context);
        if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
        const outcome = result instanceof Outcome ? result : new Outcome(result);
        print(outcome.data, state.format);
        state.exitCode = outcome.exitCode;
      });
    },
  };
  for (const register of COMMAND_GROUPS) register(program, cli);
  return program;
}

function print(data: unknown, format: string | undefined) {
  process.stdout.write(
    format === 'table' ? `${renderTable(data)}\n` : `${JSON.stringify(data ?? null, null, 2)}\n`,
  );
}

/** Runs the command line; resolves to the exit code (0 ok, 1 failure, 2 usage). */
export async function run(argv: string[]): Promise<number> {
  const state: { target?: Target; exitCode: number; format?: string } = { exitCode: EXIT.ok };
  const program = buildProgram(state);
  try {
    await program.parseAsync(argv);
    return state.exitCode;
  } catch (error) {
    // Help and version end "with an error" too, exit code 0; every other parse error is usage.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const message = explain(error, state.target);
    process.stderr.write(`shardctl: ${message}\n`);
    // Scripts reading JSON still get one document.
    if (state.format === 'json') print({ error: message }, 'json');
    return EXIT.failure;
  }
}

type ErrorLike = Error & {
  code?: string;
  address?: string;
  port?: number;
  errors?: ErrorLike[];
  $metadata?: { httpStatusCode?: number };
};

/** The error, with the next step when the cause is a common one. */
export function explain(error: unknown, target: Target | undefined): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as ErrorLike;
  const refused = [e, ...(e.errors ?? [])].find((x) => x.code === 'ECONNREFUSED');
  if (refused) {
    const where = `${refused.address ?? '127.0.0.1'}:${refused.port ?? '?'}`;
    const service = refused.port ? target?.localService(refused.port) : undefined;
    if (target?.local)
      return `no local stack on ${where}${service ? ` (${service})` : ''}: run \`npm start\` (or \`npm start -- --no-demo\`), with the same *_PORT variables if you moved its ports`;
    return `cannot connect to ${where}: check AWS_ENDPOINT_URL* and your network`;
  }
  switch (e.name) {
    case 'CredentialsProviderError':
      return `no AWS credentials (${e.message}): pass --profile or set AWS_PROFILE (after \`aws sso login\` for SSO), or use --local`;
    case 'ExpiredTokenException':
    case 'ExpiredToken':
      return `AWS credentials expired: renew them (e.g. \`aws sso login\`) and retry`;
    case 'QueueDoesNotExist':
    case 'AWS.SimpleQueueService.NonExistentQueue':
      return `${e.message}: is stage ${target?.stage} deployed in this region? (--stage, --region)`;
    case 'ResourceNotFoundException':
      return `${e.message}: is stage ${target?.stage} deployed in this region? (--stage, --region, --schedule-name)`;
    case 'AccessDeniedException':
    case 'AccessDenied':
      return `${e.message}: the credentials in use lack this permission (--profile)`;
    default:
      if (/region is missing/i.test(e.message))
        return `no AWS region: pass --region or set AWS_REGION (or a region in your profile)`;
      return e.message;
  }
}
