// Local stand-in for EventBridge Scheduler: invokes each scheduled function every
// RECONCILE_INTERVAL_SECONDS (the template's `rate(...)` is far too slow for local work).
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL } from '../defaults.ts';
import type { InvokeResult } from './lambda-pool.ts';
import type { LocalSchedule } from './template.ts';

export const DEFAULT_INTERVAL_SECONDS = 10;

export interface SchedulerOptions {
  invoke: (functionName: string, event: unknown) => Promise<InvokeResult>;
  intervalSeconds?: number;
  sqs?: SQSClient;
  /** Local queue URL of a contract queue name (for the schedule's DLQ). */
  queueUrl?: (name: string) => string | undefined;
  log?: (line: string) => void;
}

export function intervalFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RECONCILE_INTERVAL_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_INTERVAL_SECONDS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`RECONCILE_INTERVAL_SECONDS must be a positive number (got '${raw}')`);
  }
  return n;
}

/** The payload a target gets: the schedule's Input when set, else a scheduled-event shape. */
export function scheduleEvent(schedule: LocalSchedule, at = new Date()): unknown {
  if (schedule.input !== undefined) {
    try {
      return JSON.parse(schedule.input);
    } catch {
      return schedule.input;
    }
  }
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    account: LOCAL.accountId,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL.region,
    resources: [
      `arn:aws:scheduler:${LOCAL.region}:${LOCAL.accountId}:schedule/default/${schedule.name}`,
    ],
    detail: {},
  };
}

export class LocalScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, Promise<void>>();
  /** `paused`: ticks of a disabled schedule, which fire nothing. */
  readonly stats = { invocations: 0, failures: 0, skipped: 0, paused: 0 };

  constructor(
    readonly schedules: LocalSchedule[],
    private readonly opts: SchedulerOptions,
  ) {}

  start(): void {
    const seconds = this.opts.intervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
    for (const s of this.schedules) {
      this.opts.log?.(
        `schedule ${s.name} (${s.expression}) -> ${s.functionName} every ${seconds}s locally${s.enabled ? '' : ' (disabled)'}`,
      );
      // Every schedule gets a timer: a disabled one may be enabled later (UpdateSchedule).
      const timer = setInterval(() => {
        if (s.enabled) void this.fire(s);
        else this.stats.paused++;
      }, seconds * 1000);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Pauses or resumes a schedule by name, as UpdateSchedule's State does; false if unknown. */
  setEnabled(name: string, enabled: boolean): boolean {
    const schedule = this.schedules.find((s) => s.name === name);
    if (!schedule) return false;
    schedule.enabled = enabled;
    this.opts.log?.(`schedule ${name} ${enabled ? 'enabled' : 'disabled'}`);
    return true;
  }

  /** Fires one schedule now (also used by tests and tools). */
  fire(s: LocalSchedule): Promise<void> {
    const current = this.running.get(s.logicalId);
    if (current) {
      // A sweep still running: overlapping sweeps would only contend for the same leases.
      this.stats.skipped++;
      return current;
    }
    const p = this.run(s).finally(() => this.running.delete(s.logicalId));
    this.running.set(s.logicalId, p);
    return p;
  }

  get inFlight(): number {
    return this.running.size;
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await Promise.allSettled([...this.running.values()]);
  }

  private async run(s: LocalSchedule): Promise<void> {
    this.stats.invocations++;
    const event = scheduleEvent(s);
    let outcome: InvokeResult;
    try {
      outcome = await this.opts.invoke(s.functionName, event);
    } catch (err) {
      this.stats.failures++;
      this.opts.log?.(`schedule ${s.name}: invoke failed: ${(err as Error).message}`);
      return;
    }
    if (outcome.ok) return;
    this.stats.failures++;
    this.opts.log?.(
      `schedule ${s.name}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`,
    );
    const url = s.dlq ? this.opts.queueUrl?.(s.dlq) : undefined;
    if (!url || !this.opts.sqs) return;
    // Scheduler's dead-letter message: the event as body, the error as attributes.
    await this.opts.sqs
      .send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: JSON.stringify(event),
          MessageAttributes: {
            ERROR_CODE: { DataType: 'String', StringValue: outcome.error.errorType },
            ERROR_MESSAGE: {
              DataType: 'String',
              StringValue: outcome.error.errorMessage.slice(0, 1000) || 'error',
            },
            EXECUTION_ID: { DataType: 'String', StringValue: outcome.requestId || randomUUID() },
            RETRY_ATTEMPTS: { DataType: 'Number', StringValue: '0' },
          },
        }),
      )
      .catch((err: Error) =>
        this.opts.log?.(`schedule ${s.name}: dead-lettering failed: ${err.message}`),
      );
  }
}
