// shardctl: the operator's CLI. `npm run shardctl -- <command> [--stage <s> | --local]`.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import {
  cancelRedrive,
  DLQS,
  listDlqs,
  redriveTasks,
  replay,
  startRedrive,
} from './shardctl/dlq.ts';
import {
  clearLease,
  lastSweep,
  requestConvergence,
  rotateSigningKeys,
  setReconcileEnabled,
  setScheduleState,
  shardStatus,
} from './shardctl/operations.ts';
import { runSourceCommand, SOURCE_USAGE } from './shardctl/source-command.ts';
import { createTarget } from './shardctl/target.ts';

const USAGE = `shardctl <command> [--stage <stage> | --local]

  dlq list                                 depth of every DLQ
  dlq peek <dlq> [--limit N]               show messages and their failureReason (nothing moves)
  dlq redrive <dlq> [--rate N]             move the whole DLQ back to its queue (StartMessageMoveTask)
  dlq redrive-status <dlq>                 recent redrive tasks and their progress
  dlq redrive-cancel <dlq>                 cancel the running redrive task
  dlq replay <dlq> [--type T] [--business B] [--workspace W] [--shard S] [--limit N] [--dry-run]
                                           send matching messages back, then delete them from the DLQ
  converge <shardId>...                    request a convergence (reason manual)
  reconcile pause|resume                   disable / enable the EventBridge schedule (AWS)
  reconcile disable|enable                 the SSM kill switch reconcile/enabled (AWS and local)
  reconcile last                           the last sweep's summary
  shard <shardId>                          a shard and its nodes
  lease clear <shardId>                    drop a convergence lease (a stale one also expires by itself)
  keys rotate --key-id <id> [--secret-file F] [--grace-hours 24]
                                           new node signing key; the old one stays valid for the grace period
${SOURCE_USAGE}

DLQs: ${DLQS.join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stage: { type: 'string' },
      local: { type: 'boolean' },
      limit: { type: 'string' },
      rate: { type: 'string' },
      type: { type: 'string' },
      business: { type: 'string' },
      workspace: { type: 'string' },
      shard: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'key-id': { type: 'string' },
      'secret-file': { type: 'string' },
      'grace-hours': { type: 'string' },
      'schedule-name': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const target = createTarget({
    stage: values.stage,
    local: values.local,
    scheduleName: values['schedule-name'],
  });
  const number = (value: string | undefined, name: string) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} takes a positive whole number`);
    return n;
  };
  const need = (value: string | undefined, what: string) => {
    if (!value) throw new Error(`missing ${what}\n\n${USAGE}`);
    return value;
  };
  const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));

  switch (`${command} ${sub ?? ''}`.trim()) {
    case 'dlq list':
      console.table(await listDlqs(target));
      return 0;
    case 'dlq peek': {
      const { letters } = await replay(target, need(rest[0], 'the DLQ name'), {
        dryRun: true,
        limit: number(values.limit, 'limit') ?? 10,
      });
      print(letters);
      return 0;
    }
    case 'dlq redrive':
      console.log(
        `redrive task started: ${await startRedrive(target, need(rest[0], 'the DLQ name'), number(values.rate, 'rate'))}`,
      );
      return 0;
    case 'dlq redrive-status':
      print(await redriveTasks(target, need(rest[0], 'the DLQ name')));
      return 0;
    case 'dlq redrive-cancel':
      console.log(`cancelled ${await cancelRedrive(target, need(rest[0], 'the DLQ name'))}`);
      return 0;
    case 'dlq replay': {
      const dryRun = values['dry-run'] === true;
      const result = await replay(target, need(rest[0], 'the DLQ name'), {
        dryRun,
        limit: number(values.limit, 'limit'),
        filter: {
          type: values.type,
          businessId: values.business,
          workspaceId: values.workspace,
          shardId: values.shard,
        },
        onProgress: (p) =>
          process.stderr.write(
            `\rscanned ${p.scanned}  matched ${p.matched}  replayed ${p.replayed}`,
          ),
      });
      process.stderr.write('\n');
      if (dryRun) print(result.letters.map(({ body: _body, ...letter }) => letter));
      console.log(
        `${dryRun ? 'would replay' : 'replayed'} ${result.matched} of ${result.scanned} scanned`,
      );
      return 0;
    }
    case 'reconcile pause':
    case 'reconcile resume':
      await setScheduleState(target, sub === 'pause' ? 'DISABLED' : 'ENABLED');
      console.log(`schedule ${target.scheduleName} ${sub === 'pause' ? 'paused' : 'resumed'}`);
      return 0;
    case 'reconcile disable':
    case 'reconcile enable':
      await setReconcileEnabled(target, sub === 'enable');
      console.log(`reconcile/enabled = ${sub === 'enable'}`);
      return 0;
    case 'reconcile last':
      print(await lastSweep(target));
      return 0;
    case 'lease clear':
      console.log(
        (await clearLease(target, need(rest[0], 'the shard id')))
          ? 'lease cleared'
          : 'no such shard',
      );
      return 0;
    case 'keys rotate': {
      const secretFile = values['secret-file'];
      const result = await rotateSigningKeys(target, {
        newKeyId: need(values['key-id'], '--key-id'),
        secret: secretFile ? readFileSync(secretFile, 'utf8').trim() : undefined,
        graceHours: number(values['grace-hours'], 'grace-hours') ?? 24,
      });
      print(result);
      return 0;
    }
    default:
      break;
  }
  if (command === 'source') return runSourceCommand(target, sub, values['dry-run'] === true, print);
  if (command === 'converge') {
    const shards = [sub, ...rest].filter((s): s is string => Boolean(s));
    if (!shards.length) throw new Error(`missing the shard id\n\n${USAGE}`);
    const { sent, failed } = await requestConvergence(
      target,
      shards,
      `shardctl:${userInfo().username}`,
    );
    print({ sent: sent.length, failed });
    return failed.length ? 1 : 0;
  }
  if (command === 'shard') {
    print(await shardStatus(target, need(sub, 'the shard id')));
    return 0;
  }
  console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`shardctl: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
