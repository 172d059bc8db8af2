import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type SqsEmulator, startSqsEmulator } from '../../../local/emulators/index.ts';
import type { Message, ShardCreateData } from '../../../shared/contracts/messages.ts';
import {
  createEnvelope,
  InvalidMessageError,
  SendFailedError,
  ShardControlProducer,
} from '../../../shared/contracts/producer.ts';

const locations = (n: number): ShardCreateData[] =>
  Array.from({ length: n }, (_, i) => ({
    businessId: `biz-${i}`,
    locationId: `loc-${i}`,
    businessType: 'restaurant',
  }));

const ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;
const SHARD_URL =
  'https://sqs.us-east-1.amazonaws.com/123456789012/shard-control-test-shard-creation';
const WS_URL =
  'https://sqs.us-east-1.amazonaws.com/123456789012/shard-control-test-workspace-lifecycle';

describe('createEnvelope', () => {
  it('fills id and occurredAt and validates', () => {
    const message = createEnvelope('shard.create', {
      businessId: 'b',
      locationId: 'l',
      businessType: 'retail',
    });
    expect(message.type).toBe('shard.create');
    expect(message.version).toBe(1);
    expect(message.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(message.occurredAt).toISOString()).toBe(message.occurredAt);
  });

  it('keeps a given id and occurredAt', () => {
    const message = createEnvelope(
      'shard.converge',
      { shardId: 's-1', reason: 'manual' },
      { id: 'evt:1', occurredAt: '2026-11-22T10:00:00.000Z' },
    );
    expect(message).toEqual({
      type: 'shard.converge',
      version: 1,
      id: 'evt:1',
      occurredAt: '2026-11-22T10:00:00.000Z',
      data: { shardId: 's-1', reason: 'manual' },
    });
  });

  it('throws naming the invalid field', () => {
    expect(() =>
      createEnvelope('shard.create', {
        businessId: 'b',
        locationId: 'l',
        businessType: 'Bad Type',
      }),
    ).toThrow(/data\.businessType/);
    expect(() =>
      createEnvelope('workspace.created', {
        workspaceId: 'w',
        userId: 'u',
        businessId: 'b',
        locationId: 'l',
        extra: 1,
      } as never),
    ).toThrow(InvalidMessageError);
    expect(() =>
      createEnvelope(
        'shard.create',
        { businessId: 'b', locationId: 'l', businessType: 'x' },
        {
          occurredAt: '2026-11-22T10:00:00+02:00',
        },
      ),
    ).toThrow(/occurredAt/);
  });
});

describe('ShardControlProducer against the SQS emulator', () => {
  let emulator: SqsEmulator;
  let client: SQSClient;
  let queueUrl: string;

  beforeAll(async () => {
    emulator = await startSqsEmulator();
    client = new SQSClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const created = await client.send(new CreateQueueCommand({ QueueName: 'shard-creation' }));
    queueUrl = created.QueueUrl!;
  });

  afterAll(async () => {
    client.destroy();
    await emulator.stop();
  });

  it('sends 25 locations in 3 batches, each message arrives exactly once', async () => {
    const send = vi.spyOn(client, 'send');
    const producer = new ShardControlProducer({
      sqs: client,
      queueUrls: { 'shard-creation': queueUrl },
    });
    const result = await producer.sendShardCreates(locations(25));
    const batchCalls = send.mock.calls.filter(
      ([command]) => command instanceof SendMessageBatchCommand,
    );
    send.mockRestore();

    expect(result.failed).toEqual([]);
    expect(result.sent).toHaveLength(25);
    expect(batchCalls).toHaveLength(3);

    const received: Array<{ body: Message; type: string | undefined }> = [];
    for (let i = 0; i < 20 && received.length < 25; i++) {
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 300,
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 0,
        }),
      );
      for (const m of Messages) {
        received.push({
          body: JSON.parse(m.Body!) as Message,
          type: m.MessageAttributes?.type?.StringValue,
        });
      }
    }
    expect(received).toHaveLength(25);
    expect(new Set(received.map((r) => r.body.id))).toEqual(new Set(result.sent.map((s) => s.id)));
    expect(received.every((r) => r.type === 'shard.create')).toBe(true);
    const locationIds = received.map((r) => (r.body.data as ShardCreateData).locationId).sort();
    expect(locationIds).toEqual(
      locations(25)
        .map((l) => l.locationId)
        .sort(),
    );
  });
});

describe('ShardControlProducer retries (mocked SQS)', () => {
  let sqsMock: AwsClientStub<SQSClient>;
  let producer: ShardControlProducer;

  beforeEach(() => {
    sqsMock = mockClient(SQSClient);
    producer = new ShardControlProducer({
      sqs: new SQSClient({ region: 'us-east-1' }),
      queueUrls: { 'shard-creation': SHARD_URL, 'workspace-lifecycle': WS_URL },
      baseDelayMs: 0,
    });
  });

  afterEach(() => {
    sqsMock.restore();
  });

  const ok = (entries: SendMessageBatchRequestEntry[] | undefined) =>
    (entries ?? []).map((e) => ({
      Id: e.Id!,
      MessageId: `mid-${e.Id}`,
      MD5OfMessageBody: 'x',
    }));
  const entriesOf = (call: number) =>
    sqsMock.commandCalls(SendMessageBatchCommand)[call]?.args[0].input.Entries ?? [];

  it('retries only the entries that failed with SenderFault false', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFakeOnce((input: { Entries: SendMessageBatchRequestEntry[] }) => {
        const [a, b, ...rest] = input.Entries;
        return {
          Successful: ok(rest),
          Failed: [a!, b!].map((e) => ({
            Id: e.Id!,
            SenderFault: false,
            Code: 'InternalError',
            Message: 'try again',
          })),
        };
      })
      .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: ok(input.Entries),
        Failed: [],
      }));

    const result = await producer.sendShardCreates(locations(5));

    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 2);
    const first = entriesOf(0);
    const second = entriesOf(1);
    expect(first).toHaveLength(5);
    expect(second).toEqual([first[0], first[1]]);
    expect(result.failed).toEqual([]);
    expect(result.sent.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(result.sent.map((s) => s.messageId)).size).toBe(5);
  });

  it('reports a SenderFault entry at once and never retries it', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => {
        const [bad, ...rest] = input.Entries;
        return {
          Successful: ok(rest),
          Failed: [
            { Id: bad!.Id!, SenderFault: true, Code: 'InvalidParameterValue', Message: 'no' },
          ],
        };
      });

    const result = await producer.sendShardCreates(locations(3));

    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 1);
    expect(result.sent).toHaveLength(2);
    expect(result.failed).toEqual([
      expect.objectContaining({ index: 0, code: 'InvalidParameterValue', senderFault: true }),
    ]);
  });

  it('retries the whole call on throttling, then sends', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    });
    sqsMock
      .on(SendMessageBatchCommand)
      .rejectsOnce(throttled)
      .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: ok(input.Entries),
        Failed: [],
      }));

    const result = await producer.sendShardCreates(locations(4));

    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 2);
    expect(entriesOf(1)).toEqual(entriesOf(0));
    expect(result.sent).toHaveLength(4);
    expect(result.failed).toEqual([]);
  });

  it('returns the remainder in failed after maxAttempts', async () => {
    const limited = new ShardControlProducer({
      sqs: new SQSClient({ region: 'us-east-1' }),
      queueUrls: { 'shard-creation': SHARD_URL },
      maxAttempts: 3,
      baseDelayMs: 0,
    });
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => {
        const [stuck, ...rest] = input.Entries;
        return {
          Successful: ok(rest),
          Failed: [{ Id: stuck!.Id!, SenderFault: false, Code: 'ServiceUnavailable' }],
        };
      });

    const result = await limited.sendShardCreates(locations(3));

    // The first entry fails on every call; the others go through on the first one.
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
    expect(entriesOf(2)).toEqual([entriesOf(0)[0]]);
    expect(result.sent.map((s) => s.index)).toEqual([1, 2]);
    expect(result.failed).toEqual([
      expect.objectContaining({ index: 0, code: 'ServiceUnavailable', senderFault: false }),
    ]);
    expect(result.failed[0]?.message).toMatch(/after 3 attempts/);
  });

  it('does not retry a non-retryable call error and reports every entry', async () => {
    sqsMock.on(SendMessageBatchCommand).rejects(
      Object.assign(new Error('Access to the resource is denied'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const result = await producer.sendShardCreates(locations(2));
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 1);
    expect(result.sent).toEqual([]);
    expect(result.failed.map((f) => [f.index, f.code])).toEqual([
      [0, 'AccessDenied'],
      [1, 'AccessDenied'],
    ]);
  });

  it('throws on invalid data before sending anything', async () => {
    const bad = [...locations(3), { businessId: 'b', locationId: 'l/1', businessType: 'x' }];
    await expect(producer.sendShardCreates(bad)).rejects.toThrow(/location #3 .*data\.locationId/);
    const tampered = {
      ...createEnvelope('shard.create', locations(1)[0]!),
      data: { businessId: 'b', locationId: 'l', businessType: 'x', extra: true },
    } as unknown as Message;
    await expect(producer.sendMany([tampered])).rejects.toThrow(InvalidMessageError);
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 0);
  });

  it('throws before sending when a queue has no URL', async () => {
    const message = createEnvelope('shard.converge', { shardId: 's', reason: 'drift' });
    await expect(producer.sendMany([message])).rejects.toThrow(/no queue URL .*convergence/);
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 0);
  });

  it('routes by type, sets the type attribute and safe entry ids', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: ok(input.Entries),
        Failed: [],
      }));
    const ws = { workspaceId: 'ws:1', userId: 'u.1', businessId: 'b', locationId: 'l' };
    const result = await producer.sendMany([
      createEnvelope('shard.create', locations(1)[0]!, { id: 'id:with.dots:and-colons' }),
      createEnvelope('workspace.created', ws),
      createEnvelope('workspace.deleted', ws),
    ]);
    expect(result.sent).toHaveLength(3);
    expect(sqsMock).toHaveReceivedCommandWith(SendMessageBatchCommand, { QueueUrl: SHARD_URL });
    expect(sqsMock).toHaveReceivedCommandWith(SendMessageBatchCommand, { QueueUrl: WS_URL });
    for (const call of sqsMock.commandCalls(SendMessageBatchCommand)) {
      for (const entry of call.args[0].input.Entries ?? []) {
        expect(entry.Id).toMatch(ENTRY_ID);
        const body = JSON.parse(entry.MessageBody!) as Message;
        expect(entry.MessageAttributes?.type).toEqual({
          DataType: 'String',
          StringValue: body.type,
        });
      }
    }
  });

  it('sendWorkspaceEvents keeps occurredAt; send throws when the message was not sent', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFakeOnce((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: ok(input.Entries),
        Failed: [],
      }))
      .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: [],
        Failed: [{ Id: input.Entries[0]!.Id!, SenderFault: true, Code: 'InvalidMessageContents' }],
      }));
    const occurredAt = '2026-11-22T10:00:00.000Z';
    const ws = { workspaceId: 'w', userId: 'u', businessId: 'b', locationId: 'l' };
    const result = await producer.sendWorkspaceEvents([
      { type: 'workspace.created', data: ws, occurredAt },
    ]);
    expect(result.sent).toHaveLength(1);
    const body = JSON.parse(entriesOf(0)[0]!.MessageBody!) as Message;
    expect(body.occurredAt).toBe(occurredAt);

    await expect(producer.send(createEnvelope('workspace.deleted', ws))).rejects.toThrow(
      SendFailedError,
    );
  });
});
