import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SqsEmulator, startSqsEmulator } from '../../../local/emulators/sqs.ts';

let sqs: SqsEmulator;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startSqsEmulator();
  client = new SQSClient({
    endpoint: sqs.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  client.destroy();
  await sqs.stop();
});

const arnOf = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

async function createQueue(name: string, attributes: Record<string, string> = {}) {
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
  );
  return QueueUrl!;
}

/** A source queue dead-lettering into its DLQ after `maxReceiveCount` receives. */
async function createPair(name: string, maxReceiveCount = 2) {
  const dlqUrl = await createQueue(`${name}-dlq`);
  const url = await createQueue(name, {
    VisibilityTimeout: '30',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arnOf(`${name}-dlq`), maxReceiveCount }),
  });
  return { url, dlqUrl };
}

async function count(url: string) {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes!.ApproximateNumberOfMessages) +
    Number(Attributes!.ApproximateNumberOfMessagesNotVisible)
  );
}

/** Receives with VisibilityTimeout 0 until the message is dead-lettered. */
async function deadLetter(url: string, times: number) {
  for (let i = 0; i < times; i++) {
    await client.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0 }));
  }
}

async function waitForTask(
  sourceArn: string,
  done: (r: ListMessageMoveTasksResultEntry) => boolean,
) {
  for (let i = 0; i < 200; i++) {
    const { Results } = await client.send(
      new ListMessageMoveTasksCommand({ SourceArn: sourceArn }),
    );
    if (Results?.[0] && done(Results[0])) return Results[0];
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('move task did not settle');
}

describe('SQS emulator through @aws-sdk/client-sqs', () => {
  it('binds 127.0.0.1 and builds queue URLs from it', async () => {
    expect(sqs.url).toBe(`http://127.0.0.1:${sqs.port}`);
    const url = await createQueue('url-check');
    expect(url).toBe(`http://127.0.0.1:${sqs.port}/000000000000/url-check`);
    // The SDK's default (queue URL as endpoint) must work with such URLs.
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    expect(await count(url)).toBe(1);
  });

  it('moves a message to the DLQ after maxReceiveCount receives without delete', async () => {
    const { url, dlqUrl } = await createPair('redrive', 2);
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison' }));
    for (let i = 0; i < 2; i++) {
      const r = await client.send(
        new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0 }),
      );
      expect(r.Messages?.[0]?.Body).toBe('poison');
    }
    const third = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(third.Messages).toBeUndefined();
    const dlq = await client.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl }));
    expect(dlq.Messages?.[0]?.Body).toBe('poison');
  });

  it('long polling returns as soon as a message arrives', async () => {
    const url = await createQueue('long-poll');
    const started = Date.now();
    const pending = client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 10 }));
    setTimeout(() => {
      void client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'late' }));
    }, 200);
    const res = await pending;
    expect(res.Messages?.[0]?.Body).toBe('late');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('ChangeMessageVisibility hides and releases a message', async () => {
    const url = await createQueue('visibility', { VisibilityTimeout: '30' });
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'v' }));
    const first = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
    const handle = first.Messages![0]!.ReceiptHandle!;
    expect(
      (await client.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages,
    ).toBeUndefined();
    await client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: handle,
        VisibilityTimeout: 0,
      }),
    );
    const again = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(again.Messages?.[0]?.Body).toBe('v');
    await client.send(
      new DeleteMessageCommand({
        QueueUrl: url,
        ReceiptHandle: again.Messages![0]!.ReceiptHandle!,
      }),
    );
    expect(await count(url)).toBe(0);
  });

  it('standard queues do not deliver in send order', async () => {
    const url = await createQueue('shuffled');
    for (let i = 0; i < 50; i += 10) {
      await client.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: Array.from({ length: 10 }, (_, j) => ({
            Id: `m${i + j}`,
            MessageBody: String(i + j),
          })),
        }),
      );
    }
    const received: number[] = [];
    for (let i = 0; i < 50; i++) {
      const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
      const m = Messages![0]!;
      received.push(Number(m.Body));
      await client.send(
        new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }),
      );
    }
    expect([...received].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(received).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('DLQ redrive (message move tasks)', () => {
  it('counts and moves a DLQ message whose visibility timeout expired after a peek', async () => {
    const { url, dlqUrl } = await createPair('peeked', 1);
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'peeked-once' }));
    await deadLetter(url, 2);
    await client.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, VisibilityTimeout: 1 }));
    await new Promise((r) => setTimeout(r, 1100));
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: dlqUrl,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    expect(Attributes?.ApproximateNumberOfMessages).toBe('1');
    await client.send(new StartMessageMoveTaskCommand({ SourceArn: arnOf('peeked-dlq') }));
    const done = await waitForTask(arnOf('peeked-dlq'), (r) => r.Status === 'COMPLETED');
    expect(done.ApproximateNumberOfMessagesMoved).toBe(1);
    expect(await count(url)).toBe(1);
  });

  it('moves DLQ messages back to their source queue with attributes, counting them', async () => {
    const { url, dlqUrl } = await createPair('move-back', 1);
    for (let i = 0; i < 5; i++) {
      await client.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: `m${i}`,
          MessageAttributes: { failureReason: { DataType: 'String', StringValue: `r${i}` } },
        }),
      );
    }
    await deadLetter(url, 10);
    expect(await count(url)).toBe(0);
    expect(await count(dlqUrl)).toBe(5);

    const { TaskHandle } = await client.send(
      new StartMessageMoveTaskCommand({ SourceArn: arnOf('move-back-dlq') }),
    );
    expect(TaskHandle).toBeTruthy();
    const done = await waitForTask(arnOf('move-back-dlq'), (r) => r.Status === 'COMPLETED');
    expect(done).toMatchObject({
      Status: 'COMPLETED',
      SourceArn: arnOf('move-back-dlq'),
      ApproximateNumberOfMessagesMoved: 5,
      ApproximateNumberOfMessagesToMove: 5,
    });
    expect(done.TaskHandle).toBeUndefined();
    expect(done.DestinationArn).toBeUndefined();
    expect(typeof done.StartedTimestamp).toBe('number');
    expect(await count(dlqUrl)).toBe(0);

    const back = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(back.Messages?.map((m) => m.Body).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    for (const m of back.Messages!) {
      expect(m.MessageAttributes?.failureReason?.StringValue).toBe(`r${m.Body!.slice(1)}`);
    }
  });

  it('moves to an explicit DestinationArn', async () => {
    const { url, dlqUrl } = await createPair('move-dest', 1);
    const otherUrl = await createQueue('move-dest-other');
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    await deadLetter(url, 2);
    expect(await count(dlqUrl)).toBe(1);
    await client.send(
      new StartMessageMoveTaskCommand({
        SourceArn: arnOf('move-dest-dlq'),
        DestinationArn: arnOf('move-dest-other'),
      }),
    );
    const done = await waitForTask(arnOf('move-dest-dlq'), (r) => r.Status === 'COMPLETED');
    expect(done.DestinationArn).toBe(arnOf('move-dest-other'));
    expect(await count(otherUrl)).toBe(1);
    expect(await count(url)).toBe(0);
  });

  it('redrives a FIFO DLQ back to its FIFO source, keeping the message group', async () => {
    const dlqUrl = await createQueue('fifo-src-dlq.fifo', { FifoQueue: 'true' });
    const url = await createQueue('fifo-src.fifo', {
      FifoQueue: 'true',
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: arnOf('fifo-src-dlq.fifo'),
        maxReceiveCount: 1,
      }),
    });
    await client.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'ordered',
        MessageGroupId: 'shard-1',
        MessageDeduplicationId: 'd1',
      }),
    );
    await deadLetter(url, 2);
    expect(await count(dlqUrl)).toBe(1);
    await client.send(new StartMessageMoveTaskCommand({ SourceArn: arnOf('fifo-src-dlq.fifo') }));
    await waitForTask(arnOf('fifo-src-dlq.fifo'), (r) => r.Status === 'COMPLETED');
    const { Messages } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['MessageGroupId'] }),
    );
    expect(Messages?.[0]?.Body).toBe('ordered');
    expect(Messages?.[0]?.Attributes?.MessageGroupId).toBe('shard-1');
  });

  it('sends messages put straight into a DLQ to its only source; fails when ambiguous', async () => {
    const { url, dlqUrl } = await createPair('direct', 3);
    await client.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'direct' }));
    await client.send(new StartMessageMoveTaskCommand({ SourceArn: arnOf('direct-dlq') }));
    await waitForTask(arnOf('direct-dlq'), (r) => r.Status === 'COMPLETED');
    expect(await count(url)).toBe(1);

    // A second queue dead-lettering into the same DLQ makes the origin unknowable.
    await createQueue('direct-2', {
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: arnOf('direct-dlq'),
        maxReceiveCount: 3,
      }),
    });
    await client.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'orphan' }));
    await client.send(new StartMessageMoveTaskCommand({ SourceArn: arnOf('direct-dlq') }));
    const failed = await waitForTask(arnOf('direct-dlq'), (r) => r.Status === 'FAILED');
    expect(failed.FailureReason).toMatch(/DestinationArn/);
    expect(await count(dlqUrl)).toBe(1);
  });

  it('refuses a second concurrent task, and cancels a running one', async () => {
    const { url } = await createPair('move-slow', 1);
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `m${i}` })),
      }),
    );
    await deadLetter(url, 20);
    const source = arnOf('move-slow-dlq');
    const { TaskHandle } = await client.send(
      new StartMessageMoveTaskCommand({ SourceArn: source, MaxNumberOfMessagesPerSecond: 1 }),
    );
    await expect(
      client.send(new StartMessageMoveTaskCommand({ SourceArn: source })),
    ).rejects.toMatchObject({ name: 'UnsupportedOperation', $metadata: { httpStatusCode: 400 } });

    const running = await client.send(new ListMessageMoveTasksCommand({ SourceArn: source }));
    expect(running.Results?.[0]).toMatchObject({
      Status: 'RUNNING',
      TaskHandle,
      MaxNumberOfMessagesPerSecond: 1,
      ApproximateNumberOfMessagesToMove: 10,
    });

    const cancelled = await client.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
    expect(cancelled.ApproximateNumberOfMessagesMoved).toBeLessThan(10);
    const settled = await waitForTask(source, (r) => r.Status === 'CANCELLED');
    expect(settled.ApproximateNumberOfMessagesMoved).toBeLessThan(10);
    await expect(
      client.send(new CancelMessageMoveTaskCommand({ TaskHandle })),
    ).rejects.toMatchObject({ name: 'UnsupportedOperation' });

    // Once cancelled, a new task may start; listing keeps history newest first.
    await client.send(new StartMessageMoveTaskCommand({ SourceArn: source }));
    await waitForTask(source, (r) => r.Status === 'COMPLETED');
    const history = await client.send(
      new ListMessageMoveTasksCommand({ SourceArn: source, MaxResults: 10 }),
    );
    expect(history.Results?.map((r) => r.Status)).toEqual(['COMPLETED', 'CANCELLED']);
  });

  it('rejects sources that are not a DLQ or do not exist, and unknown handles', async () => {
    await createQueue('plain');
    await expect(
      client.send(new StartMessageMoveTaskCommand({ SourceArn: arnOf('plain') })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      client.send(new StartMessageMoveTaskCommand({ SourceArn: arnOf('nope') })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      client.send(new ListMessageMoveTasksCommand({ SourceArn: arnOf('nope') })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      client.send(new CancelMessageMoveTaskCommand({ TaskHandle: 'bm90LWEtdGFzaw==' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('without shuffle', () => {
  it('delivers a standard queue in send order, as fauxqs does', async () => {
    const own = await startSqsEmulator({ shuffle: false });
    const c = new SQSClient({
      endpoint: own.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    const { QueueUrl } = await c.send(new CreateQueueCommand({ QueueName: 'ordered' }));
    for (let i = 0; i < 5; i++) {
      await c.send(new SendMessageCommand({ QueueUrl, MessageBody: String(i) }));
    }
    const { Messages } = await c.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
    );
    expect(Messages?.map((m) => m.Body)).toEqual(['0', '1', '2', '3', '4']);
    c.destroy();
    await own.stop();
  });
});

describe('lifecycle', () => {
  it('stop() releases the port even with a long poll in flight', async () => {
    const own = await startSqsEmulator({ shuffle: false });
    const c = new SQSClient({
      endpoint: own.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    const { QueueUrl } = await c.send(new CreateQueueCommand({ QueueName: 'lp' }));
    const poll = c
      .send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }))
      .catch(() => null);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await own.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    await poll;
    // Same port is free again at once.
    const again = await startSqsEmulator({ port: own.port });
    await again.stop();
    c.destroy();
  });
});
