// The query (XML) protocol of the local SQS, over real HTTP: requests as the AWS CLI and
// boto3 (query protocol) send them, answers checked against AWS's XML shapes, and the same
// queues seen through the JSON protocol (the SDK) to show both reach the same handlers.
import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SqsEmulator, startSqsEmulator } from '../../../local/emulators/sqs.ts';
import { toJsonRequest } from '../../../local/emulators/sqs-query.ts';

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

const XMLNS = 'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"';

interface Answer {
  status: number;
  contentType: string;
  xml: string;
}

/** A form-encoded POST, as botocore's query serializer sends it (to `path`, default `/`). */
async function query(params: Record<string, string>, path = '/'): Promise<Answer> {
  const res = await fetch(`${sqs.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: new URLSearchParams({ Version: '2012-11-05', ...params }).toString(),
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    xml: await res.text(),
  };
}

const unescapeXml = (s: string) =>
  s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#xD;', '\r')
    .replaceAll('&amp;', '&');

/** Raw content of every `<tag>` element (no nesting of the same tag in SQS answers). */
const raw = (xml: string, tag: string) =>
  [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);
/** Text of every `<tag>` element holding text. */
const texts = (xml: string, tag: string) => raw(xml, tag).map(unescapeXml);
const text = (xml: string, tag: string) => texts(xml, tag)[0];

/** `<MessageAttribute><Name>n</Name><Value><X>x</X>...</Value></MessageAttribute>` -> { n: { X: x } }. */
function messageAttributes(xml: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const attr of raw(xml, 'MessageAttribute')) {
    const value: Record<string, string> = {};
    for (const [, tag, inner] of raw(attr, 'Value')[0]!.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) {
      value[tag!] = unescapeXml(inner!);
    }
    out[text(attr, 'Name')!] = value;
  }
  return out;
}

/** Receipt handle per body of a ReceiveMessage answer. */
const handles = (xml: string) =>
  Object.fromEntries(raw(xml, 'Message').map((m) => [text(m, 'Body'), text(m, 'ReceiptHandle')!]));

const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex');

/** AWS's MD5OfMessageAttributes, written from the SQS developer guide, independently of fauxqs. */
function md5OfAttributes(
  attrs: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>,
) {
  const parts: Buffer[] = [];
  const withLength = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  };
  for (const name of Object.keys(attrs).sort()) {
    const a = attrs[name]!;
    withLength(Buffer.from(name, 'utf8'));
    withLength(Buffer.from(a.DataType, 'utf8'));
    if (a.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      withLength(Buffer.from(a.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      withLength(Buffer.from(a.StringValue ?? '', 'utf8'));
    }
  }
  return md5(Buffer.concat(parts));
}

let queues = 0;
async function createQueue(attributes: Record<string, string> = {}) {
  const name = `query-${++queues}`;
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
  );
  return { name, url: QueueUrl! };
}

async function receiveAll(url: string) {
  const out = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      MessageAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}

describe('query request -> JSON request', () => {
  it('un-flattens indexed lists, maps and nested members, and types integers', () => {
    expect(
      toJsonRequest('SendMessageBatch', {
        Action: 'SendMessageBatch',
        Version: '2012-11-05',
        QueueUrl: 'http://q',
        'SendMessageBatchRequestEntry.2.Id': 'b',
        'SendMessageBatchRequestEntry.2.MessageBody': 'B',
        'SendMessageBatchRequestEntry.1.Id': 'a',
        'SendMessageBatchRequestEntry.1.MessageBody': 'A',
        'SendMessageBatchRequestEntry.1.DelaySeconds': '3',
        'SendMessageBatchRequestEntry.1.MessageAttribute.1.Name': 'k',
        'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType': 'String',
        'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue': 'v',
      }),
    ).toEqual({
      QueueUrl: 'http://q',
      Entries: [
        {
          Id: 'a',
          MessageBody: 'A',
          DelaySeconds: 3,
          MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
        },
        { Id: 'b', MessageBody: 'B' },
      ],
    });
    expect(
      toJsonRequest('ReceiveMessage', {
        QueueUrl: 'http://q',
        'AttributeName.1': 'All',
        'MessageAttributeName.1': 'a',
        'MessageAttributeName.2': 'b.*',
        MaxNumberOfMessages: '10',
        WaitTimeSeconds: '0',
      }),
    ).toEqual({
      QueueUrl: 'http://q',
      AttributeNames: ['All'],
      MessageAttributeNames: ['a', 'b.*'],
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
    });
  });

  it('takes a bare list parameter (AttributeName=All) as one item, and names CreateQueue tags `tags`', () => {
    expect(toJsonRequest('GetQueueAttributes', { QueueUrl: 'u', AttributeName: 'All' })).toEqual({
      QueueUrl: 'u',
      AttributeNames: ['All'],
    });
    expect(
      toJsonRequest('CreateQueue', {
        QueueName: 'n',
        'Attribute.1.Name': 'VisibilityTimeout',
        'Attribute.1.Value': '60',
        'Tag.1.Key': 'team',
        'Tag.1.Value': 'x',
      }),
    ).toEqual({ QueueName: 'n', Attributes: { VisibilityTimeout: '60' }, tags: { team: 'x' } });
  });
});

describe('query protocol over HTTP', () => {
  it('SendMessage with message attributes: AWS XML answer, AWS MD5s, the message as the JSON side sees it', async () => {
    const { url } = await createQueue();
    const body = '{"type":"shard.create"} & <tags> "quoted"\r\nline 2 ü';
    const attrs = {
      type: { DataType: 'String', StringValue: 'shard.create' },
      count: { DataType: 'Number', StringValue: '42' },
      blob: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]).toString('base64') },
    };
    const answer = await query({
      Action: 'SendMessage',
      QueueUrl: url,
      MessageBody: body,
      'MessageAttribute.1.Name': 'type',
      'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.1.Value.StringValue': 'shard.create',
      'MessageAttribute.2.Name': 'count',
      'MessageAttribute.2.Value.DataType': 'Number',
      'MessageAttribute.2.Value.StringValue': '42',
      'MessageAttribute.3.Name': 'blob',
      'MessageAttribute.3.Value.DataType': 'Binary',
      'MessageAttribute.3.Value.BinaryValue': attrs.blob.BinaryValue,
    });
    expect(answer.status).toBe(200);
    expect(answer.contentType).toContain('text/xml');
    expect(answer.xml).toMatch(
      new RegExp(`^<\\?xml version="1.0"\\?><SendMessageResponse ${XMLNS}><SendMessageResult>`),
    );
    expect(answer.xml).toMatch(
      /<\/SendMessageResult><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/SendMessageResponse>$/,
    );
    expect(text(answer.xml, 'MD5OfMessageBody')).toBe(md5(body));
    expect(text(answer.xml, 'MD5OfMessageAttributes')).toBe(md5OfAttributes(attrs));

    const [msg] = await receiveAll(url);
    expect(msg?.MessageId).toBe(text(answer.xml, 'MessageId'));
    expect(msg?.Body).toBe(body);
    expect(msg?.MessageAttributes?.type?.StringValue).toBe('shard.create');
    expect(msg?.MessageAttributes?.count).toMatchObject({ DataType: 'Number', StringValue: '42' });
    expect(Buffer.from(msg!.MessageAttributes!.blob!.BinaryValue!)).toEqual(
      Buffer.from([0, 1, 2, 255]),
    );
  });

  it('ReceiveMessage: Message elements with MD5s, system Attribute and MessageAttribute entries', async () => {
    const { url } = await createQueue();
    const body = 'a & b <c>\r\n';
    await client.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: body,
        MessageAttributes: {
          failureReason: { DataType: 'String', StringValue: 'bad <input>' },
          blob: { DataType: 'Binary', BinaryValue: Buffer.from('hi') },
        },
      }),
    );
    const answer = await query({
      Action: 'ReceiveMessage',
      QueueUrl: url,
      'AttributeName.1': 'All',
      'MessageAttributeName.1': 'All',
      MaxNumberOfMessages: '10',
      VisibilityTimeout: '30',
      WaitTimeSeconds: '0',
    });
    expect(answer.status).toBe(200);
    const messages = texts(answer.xml, 'Message');
    expect(messages).toHaveLength(1);
    expect(answer.xml).toContain(
      `<ReceiveMessageResponse ${XMLNS}><ReceiveMessageResult><Message><MessageId>`,
    );
    const m = answer.xml;
    expect(text(m, 'Body')).toBe(body);
    expect(text(m, 'MD5OfBody')).toBe(md5(body));
    expect(text(m, 'MD5OfMessageAttributes')).toBe(
      md5OfAttributes({
        failureReason: { DataType: 'String', StringValue: 'bad <input>' },
        blob: { DataType: 'Binary', BinaryValue: Buffer.from('hi').toString('base64') },
      }),
    );
    expect(m).toContain(
      '<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>',
    );
    expect(m).toMatch(/<Attribute><Name>SentTimestamp<\/Name><Value>\d+<\/Value><\/Attribute>/);
    expect(messageAttributes(m)).toEqual({
      failureReason: { DataType: 'String', StringValue: 'bad <input>' },
      blob: { DataType: 'Binary', BinaryValue: Buffer.from('hi').toString('base64') },
    });

    // VisibilityTimeout=30 hid it; an empty answer still has its (empty) Result element.
    const empty = await query({ Action: 'ReceiveMessage', QueueUrl: url, WaitTimeSeconds: '0' });
    expect(empty.xml).toContain('<ReceiveMessageResult></ReceiveMessageResult><ResponseMetadata>');
  });

  it('ReceiveMessage long-polls: WaitTimeSeconds returns as soon as a message arrives', async () => {
    const { url } = await createQueue();
    const started = Date.now();
    const receiving = query({ Action: 'ReceiveMessage', QueueUrl: url, WaitTimeSeconds: '20' });
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'late' }));
    const answer = await receiving;
    expect(text(answer.xml, 'Body')).toBe('late');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('batches: SendMessageBatch, ChangeMessageVisibilityBatch and DeleteMessageBatch entries and per-entry errors', async () => {
    const { url } = await createQueue();
    const sent = await query({
      Action: 'SendMessageBatch',
      QueueUrl: url,
      'SendMessageBatchRequestEntry.1.Id': 'one',
      'SendMessageBatchRequestEntry.1.MessageBody': 'first',
      'SendMessageBatchRequestEntry.2.Id': 'two',
      'SendMessageBatchRequestEntry.2.MessageBody': 'second',
      'SendMessageBatchRequestEntry.2.MessageAttribute.1.Name': 'k',
      'SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType': 'String',
      'SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue': 'v',
    });
    expect(sent.status).toBe(200);
    const entries = texts(sent.xml, 'SendMessageBatchResultEntry');
    expect(entries).toHaveLength(2);
    expect(entries[0]).toContain(`<Id>one</Id>`);
    expect(entries[0]).toContain(`<MD5OfMessageBody>${md5('first')}</MD5OfMessageBody>`);
    expect(entries[1]).toContain(
      `<MD5OfMessageAttributes>${md5OfAttributes({ k: { DataType: 'String', StringValue: 'v' } })}</MD5OfMessageAttributes>`,
    );

    const received = await query({
      Action: 'ReceiveMessage',
      QueueUrl: url,
      MaxNumberOfMessages: '10',
    });
    const { first, second } = handles(received.xml);
    expect(first && second).toBeTruthy();

    const changed = await query({
      Action: 'ChangeMessageVisibilityBatch',
      QueueUrl: url,
      'ChangeMessageVisibilityBatchRequestEntry.1.Id': 'ok',
      'ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle': first!,
      'ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout': '60',
      'ChangeMessageVisibilityBatchRequestEntry.2.Id': 'bad',
      'ChangeMessageVisibilityBatchRequestEntry.2.ReceiptHandle': 'not-a-handle',
      'ChangeMessageVisibilityBatchRequestEntry.2.VisibilityTimeout': '60',
    });
    expect(changed.xml).toContain(
      '<ChangeMessageVisibilityBatchResult><ChangeMessageVisibilityBatchResultEntry><Id>ok</Id></ChangeMessageVisibilityBatchResultEntry><BatchResultErrorEntry><Id>bad</Id>',
    );
    expect(text(changed.xml, 'BatchResultErrorEntry')).toContain('<SenderFault>true</SenderFault>');
    expect(text(changed.xml, 'Code')).toBe('ReceiptHandleIsInvalid');

    const deleted = await query({
      Action: 'DeleteMessageBatch',
      QueueUrl: url,
      'DeleteMessageBatchRequestEntry.1.Id': 'a',
      'DeleteMessageBatchRequestEntry.1.ReceiptHandle': first!,
      'DeleteMessageBatchRequestEntry.2.Id': 'b',
      'DeleteMessageBatchRequestEntry.2.ReceiptHandle': second!,
    });
    expect(texts(deleted.xml, 'DeleteMessageBatchResultEntry')).toEqual([
      '<Id>a</Id>',
      '<Id>b</Id>',
    ]);
    expect(deleted.xml).not.toContain('BatchResultErrorEntry');
  });

  it('DeleteMessage, ChangeMessageVisibility, PurgeQueue and SetQueueAttributes answer without a Result element', async () => {
    const { url } = await createQueue();
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'y' }));
    const received = await query({
      Action: 'ReceiveMessage',
      QueueUrl: url,
      MaxNumberOfMessages: '10',
    });
    const { x: h1, y: h2 } = handles(received.xml);

    const changed = await query({
      Action: 'ChangeMessageVisibility',
      QueueUrl: url,
      ReceiptHandle: h1!,
      VisibilityTimeout: '0',
    });
    expect(changed.xml).toMatch(
      new RegExp(
        `^<\\?xml version="1.0"\\?><ChangeMessageVisibilityResponse ${XMLNS}><ResponseMetadata><RequestId>[^<]+</RequestId></ResponseMetadata></ChangeMessageVisibilityResponse>$`,
      ),
    );
    const del = await query({ Action: 'DeleteMessage', QueueUrl: url, ReceiptHandle: h2! });
    expect(del.status).toBe(200);
    expect(del.xml).toContain(`<DeleteMessageResponse ${XMLNS}><ResponseMetadata>`);
    // h1 was made visible again, h2 deleted.
    expect((await receiveAll(url)).map((m) => m.Body)).toEqual(['x']);

    const set = await query({
      Action: 'SetQueueAttributes',
      QueueUrl: url,
      'Attribute.1.Name': 'VisibilityTimeout',
      'Attribute.1.Value': '45',
      'Attribute.2.Name': 'DelaySeconds',
      'Attribute.2.Value': '0',
    });
    expect(set.xml).toContain(`<SetQueueAttributesResponse ${XMLNS}><ResponseMetadata>`);
    const got = await query({
      Action: 'GetQueueAttributes',
      QueueUrl: url,
      'AttributeName.1': 'VisibilityTimeout',
      'AttributeName.2': 'ApproximateNumberOfMessagesNotVisible',
    });
    expect(got.xml).toContain(
      '<GetQueueAttributesResult><Attribute><Name>VisibilityTimeout</Name><Value>45</Value></Attribute><Attribute><Name>ApproximateNumberOfMessagesNotVisible</Name><Value>1</Value></Attribute></GetQueueAttributesResult>',
    );

    const purged = await query({ Action: 'PurgeQueue', QueueUrl: url });
    expect(purged.xml).toContain(`<PurgeQueueResponse ${XMLNS}><ResponseMetadata>`);
  });

  it('CreateQueue, GetQueueUrl, ListQueues and ListQueueTags', async () => {
    const created = await query({
      Action: 'CreateQueue',
      QueueName: 'query-made-by-query',
      'Attribute.1.Name': 'VisibilityTimeout',
      'Attribute.1.Value': '60',
      'Tag.1.Key': 'team',
      'Tag.1.Value': 'control',
    });
    const url = `${sqs.url}/000000000000/query-made-by-query`;
    expect(created.xml).toContain(
      `<CreateQueueResult><QueueUrl>${url}</QueueUrl></CreateQueueResult>`,
    );
    const got = await query({ Action: 'GetQueueUrl', QueueName: 'query-made-by-query' });
    expect(got.xml).toContain(
      `<GetQueueUrlResponse ${XMLNS}><GetQueueUrlResult><QueueUrl>${url}</QueueUrl></GetQueueUrlResult>`,
    );
    const listed = await query({ Action: 'ListQueues', QueueNamePrefix: 'query-made-' });
    expect(listed.xml).toContain(
      `<ListQueuesResult><QueueUrl>${url}</QueueUrl></ListQueuesResult>`,
    );
    const tags = await query({ Action: 'ListQueueTags', QueueUrl: url });
    expect(tags.xml).toContain(
      '<ListQueueTagsResult><Tag><Key>team</Key><Value>control</Value></Tag></ListQueueTagsResult>',
    );
    const attrs = await query({
      Action: 'GetQueueAttributes',
      QueueUrl: url,
      'AttributeName.1': 'VisibilityTimeout',
    });
    expect(text(attrs.xml, 'Value')).toBe('60');
  });

  it('GET query strings, and POSTs to the queue URL itself (older SDKs), name their queue by path', async () => {
    const { url } = await createQueue();
    const path = new URL(url).pathname;
    const viaGet = await fetch(
      `${url}?${new URLSearchParams({ Action: 'SendMessage', Version: '2012-11-05', MessageBody: 'by GET' })}`,
    );
    expect(viaGet.status).toBe(200);
    expect(await viaGet.text()).toContain(`<MD5OfMessageBody>${md5('by GET')}</MD5OfMessageBody>`);
    const viaPath = await query({ Action: 'SendMessage', MessageBody: 'by path' }, path);
    expect(viaPath.status).toBe(200);
    const list = await fetch(`${sqs.url}/?Action=ListQueues&Version=2012-11-05`);
    expect(await list.text()).toContain(`<QueueUrl>${url}</QueueUrl>`);
    expect((await receiveAll(url)).map((m) => m.Body).sort()).toEqual(['by GET', 'by path']);
  });

  it('errors: AWS ErrorResponse with Type, query error code and HTTP 400', async () => {
    const missing = await query({ Action: 'GetQueueUrl', QueueName: 'query-no-such-queue' });
    expect(missing.status).toBe(400);
    expect(missing.contentType).toContain('text/xml');
    expect(missing.xml).toMatch(
      new RegExp(
        `^<\\?xml version="1.0"\\?><ErrorResponse ${XMLNS}><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist[^<]*</Message><Detail/></Error><RequestId>[0-9a-f-]{36}</RequestId></ErrorResponse>$`,
      ),
    );
    const sendToMissing = await query({
      Action: 'SendMessage',
      QueueUrl: `${sqs.url}/000000000000/nope`,
      MessageBody: 'x',
    });
    expect(text(sendToMissing.xml, 'Code')).toBe('AWS.SimpleQueueService.NonExistentQueue');

    const { url } = await createQueue();
    const badNumber = await query({
      Action: 'ReceiveMessage',
      QueueUrl: url,
      MaxNumberOfMessages: 'ten',
    });
    expect(badNumber.status).toBe(400);
    expect(text(badNumber.xml, 'Code')).toBe('InvalidParameterValue');
    const outOfRange = await query({
      Action: 'ReceiveMessage',
      QueueUrl: url,
      MaxNumberOfMessages: '11',
    });
    expect(text(outOfRange.xml, 'Code')).toBe('InvalidParameterValue');
    expect(text(outOfRange.xml, 'Message')).toMatch(/MaxNumberOfMessages/);

    const unknown = await query({ Action: 'SendCarrierPigeon' });
    expect(unknown.status).toBe(400);
    expect(text(unknown.xml, 'Code')).toBe('InvalidAction');
  });

  it('reaches the emulator extensions too: StartMessageMoveTask and ListMessageMoveTasks', async () => {
    const dlq = await createQueue();
    const dlqArn = `arn:aws:sqs:us-east-1:000000000000:${dlq.name}`;
    const source = await createQueue({
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
    });
    await client.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: 'back home' }));
    const started = await query({
      Action: 'StartMessageMoveTask',
      SourceArn: dlqArn,
      MaxNumberOfMessagesPerSecond: '50',
    });
    expect(started.status).toBe(200);
    expect(text(started.xml, 'TaskHandle')).toMatch(/\S/);
    const listed = await query({ Action: 'ListMessageMoveTasks', SourceArn: dlqArn });
    expect(listed.xml).toContain('<ListMessageMoveTasksResult><ListMessageMoveTasksResultEntry>');
    expect(text(listed.xml, 'MaxNumberOfMessagesPerSecond')).toBe('50');
    const again = await query({
      Action: 'StartMessageMoveTask',
      SourceArn: 'arn:aws:sqs:us-east-1:000000000000:nope',
    });
    expect(again.status).toBe(400);
    expect(text(again.xml, 'Code')).toBe('ResourceNotFoundException');
    // The move itself is covered by sqs.test.ts; here only that it was the same task list.
    await expect
      .poll(async () => (await receiveAll(source.url)).map((m) => m.Body), { timeout: 10_000 })
      .toEqual(['back home']);
  });

  it('leaves query requests of other services (SNS) to them', async () => {
    const res = await fetch(`${sqs.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=ListTopics&Version=2010-03-31',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(
      '<ListTopicsResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">',
    );
  });
});
