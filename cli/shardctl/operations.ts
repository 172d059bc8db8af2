// Operator actions other than DLQs: trigger convergence, pause, disable or run reconciliation,
// clear a stuck lease, show a shard, rotate node signing keys.
import { randomBytes } from 'node:crypto';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetScheduleCommand, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { GetParameterCommand, ParameterNotFound, PutParameterCommand } from '@aws-sdk/client-ssm';
import { PARAMETERS, ssmPrefix } from '../../shared/contracts/names.ts';
import { createEnvelope, ShardControlProducer } from '../../shared/contracts/producer.ts';
import {
  type SigningKeys,
  SigningKeys as SigningKeysSchema,
} from '../../shared/contracts/signing.ts';
import { createStores } from '../../shared/store/index.ts';
import type { Target } from './target.ts';

const parameterName = (target: Target, key: keyof typeof PARAMETERS) =>
  `${ssmPrefix(target.stage)}/${PARAMETERS[key].name}`;

export async function requestConvergence(target: Target, shardIds: string[], requestedBy: string) {
  const producer = new ShardControlProducer({
    sqs: target.sqs,
    queueUrls: { convergence: await target.queueUrl('convergence') },
  });
  return producer.sendMany(
    shardIds.map((shardId) =>
      createEnvelope('shard.converge', { shardId, reason: 'manual', requestedBy }),
    ),
  );
}

/** Kill switch in SSM: a sweep that reads `false` exits at once (works locally and in AWS). */
export async function setReconcileEnabled(target: Target, enabled: boolean) {
  await target.ssm.send(
    new PutParameterCommand({
      Name: parameterName(target, 'reconcileEnabled'),
      Value: String(enabled),
      Type: 'String',
      Overwrite: true,
    }),
  );
}

/** The kill switch's value; an absent parameter means its default, enabled. */
export async function reconcileEnabled(target: Target): Promise<boolean> {
  try {
    const { Parameter } = await target.ssm.send(
      new GetParameterCommand({ Name: parameterName(target, 'reconcileEnabled') }),
    );
    return Parameter?.Value?.trim().toLowerCase() !== 'false';
  } catch (error) {
    if (error instanceof ParameterNotFound) return true;
    throw error;
  }
}

export async function scheduleState(target: Target) {
  const { State, ScheduleExpression } = await target.scheduler.send(
    new GetScheduleCommand({ Name: target.scheduleName }),
  );
  return { name: target.scheduleName, state: State, expression: ScheduleExpression };
}

/** Pauses or resumes the EventBridge Scheduler schedule itself (the local stack has one too). */
export async function setScheduleState(target: Target, state: 'ENABLED' | 'DISABLED') {
  const current = await target.scheduler.send(
    new GetScheduleCommand({ Name: target.scheduleName }),
  );
  // UpdateSchedule replaces the whole definition: carry every field over, change only State.
  await target.scheduler.send(
    new UpdateScheduleCommand({
      Name: target.scheduleName,
      GroupName: current.GroupName,
      ScheduleExpression: current.ScheduleExpression,
      ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
      FlexibleTimeWindow: current.FlexibleTimeWindow,
      Target: current.Target,
      Description: current.Description,
      StartDate: current.StartDate,
      EndDate: current.EndDate,
      KmsKeyArn: current.KmsKeyArn,
      ActionAfterCompletion: current.ActionAfterCompletion,
      State: state,
    }),
  );
}

/**
 * Runs one sweep now, synchronously (Lambda Invoke of the sweep function), and returns what it
 * returned: its summary, or `{ outcome: 'disabled' }` when the kill switch is off.
 */
export function sweepNow(target: Target, requestedBy: string) {
  return invokeOnce(target, target.sweepFunctionName, 'the sweep', 'reconcile last', {
    source: 'shardctl',
    'detail-type': 'Manual sweep',
    requestedBy,
  });
}

/** Runs a scheduled function once (Lambda Invoke, in AWS or on the local stack) and waits. */
export async function invokeOnce(
  target: Target,
  functionName: string,
  what: string,
  nextStep: string,
  event: unknown,
) {
  const { FunctionError, Payload } = await target.lambda.send(
    new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify(event) }),
  );
  const text = Payload ? Buffer.from(Payload).toString('utf8') : '';
  let result: unknown = text;
  try {
    result = JSON.parse(text);
  } catch {
    // Not JSON: shown as it is.
  }
  if (FunctionError) {
    const error = result as { errorType?: string; errorMessage?: string };
    throw new Error(
      `${what} failed: ${error.errorType ?? FunctionError}: ${error.errorMessage ?? text}; \`${nextStep}\` and the function's logs say more`,
    );
  }
  return result;
}

export const storesOf = (target: Target) =>
  createStores({ tableName: target.tableName, client: target.dynamodb });

export async function clearLease(target: Target, shardId: string) {
  return storesOf(target).shards.clearLease(shardId);
}

export async function shardStatus(target: Target, shardId: string) {
  const { shards, nodes } = storesOf(target);
  const [shard, shardNodes] = await Promise.all([shards.get(shardId), nodes.list(shardId)]);
  return { shard, nodes: shardNodes };
}

export async function lastSweep(target: Target) {
  return storesOf(target).sweeps.last();
}

/**
 * Rotation keeps the old key valid for a grace period so agents can switch over: the current
 * key becomes `previous` with `validUntil`, a new key becomes `current`. The new secret is
 * generated here (or read from a file) and only ever written to SSM, never printed.
 */
export async function rotateSigningKeys(
  target: Target,
  options: { newKeyId: string; secret?: string; graceHours: number },
) {
  const name = parameterName(target, 'nodeSigningKeys');
  const { Parameter } = await target.ssm.send(
    new GetParameterCommand({ Name: name, WithDecryption: true }),
  );
  const parsed = SigningKeysSchema.safeParse(JSON.parse(Parameter?.Value ?? 'null'));
  if (!parsed.success)
    throw new Error(`${name} does not hold valid signing keys; fix it before rotating`);
  const current = parsed.data.current;
  if (current.id === options.newKeyId)
    throw new Error(`key id ${options.newKeyId} is already the current key`);
  const next: SigningKeys = {
    current: {
      id: options.newKeyId,
      secret: options.secret ?? randomBytes(32).toString('base64url'),
    },
    previous: {
      ...current,
      validUntil: new Date(Date.now() + options.graceHours * 3_600_000).toISOString(),
    },
  };
  await target.ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: JSON.stringify(next),
      Type: 'SecureString',
      Overwrite: true,
    }),
  );
  return {
    current: next.current.id,
    previous: current.id,
    previousValidUntil: next.previous?.validUntil,
  };
}
