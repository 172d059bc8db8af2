// The SQS query protocol (form-encoded POST or GET, XML answers) in front of the emulator's
// JSON protocol. fauxqs speaks only JSON, but older SDKs and tools (the AWS CLI before 2.13,
// boto3 before 1.28.x) speak query, like AWS still does. Each query request is translated to
// the JSON request, dispatched in-process through the same app (so the same handlers and
// extensions answer), and the JSON answer is rendered as AWS's XML.
import { randomUUID } from 'node:crypto';
import type { buildApp } from 'fauxqs';

type App = ReturnType<typeof buildApp>;
type Json = Record<string, unknown>;

const XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';

/** Every action the JSON side answers (fauxqs, plus the move tasks added in sqs.ts). */
export const SQS_ACTIONS = new Set([
  'CreateQueue',
  'DeleteQueue',
  'GetQueueUrl',
  'ListQueues',
  'GetQueueAttributes',
  'SetQueueAttributes',
  'PurgeQueue',
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
  'TagQueue',
  'UntagQueue',
  'ListQueueTags',
  'StartMessageMoveTask',
  'ListMessageMoveTasks',
  'CancelMessageMoveTask',
]);

/** Actions whose AWS answer has no `<XxxResult>` element. */
const NO_RESULT = new Set([
  'DeleteQueue',
  'SetQueueAttributes',
  'PurgeQueue',
  'DeleteMessage',
  'ChangeMessageVisibility',
  'TagQueue',
  'UntagQueue',
]);

// Query parameter names (flattened, singular) -> JSON member names.
const LISTS: Record<string, string> = {
  AttributeName: 'AttributeNames',
  MessageAttributeName: 'MessageAttributeNames',
  MessageSystemAttributeName: 'MessageSystemAttributeNames',
  TagKey: 'TagKeys',
  StringListValue: 'StringListValues',
  BinaryListValue: 'BinaryListValues',
  SendMessageBatchRequestEntry: 'Entries',
  DeleteMessageBatchRequestEntry: 'Entries',
  ChangeMessageVisibilityBatchRequestEntry: 'Entries',
};
const MAPS: Record<string, { member: string; key: string; value: string }> = {
  Attribute: { member: 'Attributes', key: 'Name', value: 'Value' },
  MessageAttribute: { member: 'MessageAttributes', key: 'Name', value: 'Value' },
  MessageSystemAttribute: { member: 'MessageSystemAttributes', key: 'Name', value: 'Value' },
  Tag: { member: 'Tags', key: 'Key', value: 'Value' },
};
const INTEGERS = new Set([
  'DelaySeconds',
  'MaxNumberOfMessages',
  'VisibilityTimeout',
  'WaitTimeSeconds',
  'MaxResults',
  'MaxNumberOfMessagesPerSecond',
]);

// JSON member names -> XML element names of their flattened items (the inverse of the above,
// for answers; `Successful` is named after the action).
const RESULT_LISTS: Record<string, string> = {
  Messages: 'Message',
  QueueUrls: 'QueueUrl',
  Failed: 'BatchResultErrorEntry',
  Results: 'ListMessageMoveTasksResultEntry',
  StringListValues: 'StringListValue',
  BinaryListValues: 'BinaryListValue',
};
const RESULT_MAPS: Record<string, { element: string; key: string; value: string }> = {
  Attributes: { element: 'Attribute', key: 'Name', value: 'Value' },
  MessageAttributes: { element: 'MessageAttribute', key: 'Name', value: 'Value' },
  Tags: { element: 'Tag', key: 'Key', value: 'Value' },
};

class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

type Tree = { [key: string]: Tree | string };

/** Query parameters (`Action` and `Version` excluded) -> the JSON protocol's request. */
export function toJsonRequest(action: string, params: Record<string, string>): Json {
  const tree: Tree = {};
  for (const [name, value] of Object.entries(params)) {
    if (name === 'Action' || name === 'Version') continue;
    const path = name.split('.');
    let node = tree;
    const leaf = path.pop()!;
    for (const part of path) {
      const next = node[part] ?? {};
      if (typeof next === 'string') {
        throw new QueryError('MalformedQueryString', `Parameter ${name} conflicts with ${part}.`);
      }
      node[part] = next;
      node = next;
    }
    node[leaf] = value;
  }
  const request = convert(tree) as Json;
  // CreateQueue is the one place the JSON protocol names its tags in lower case.
  if (action === 'CreateQueue' && request.Tags !== undefined) {
    request.tags = request.Tags;
    delete request.Tags;
  }
  return request;
}

function convert(tree: Tree): Json {
  const out: Json = {};
  for (const [name, value] of Object.entries(tree)) {
    const map = MAPS[name];
    if (map) {
      const entries: Json = {};
      for (const item of items(value)) {
        if (typeof item === 'string') continue;
        const key = item[map.key];
        const v = item[map.value];
        if (typeof key !== 'string' || v === undefined) continue;
        entries[key] = typeof v === 'string' ? v : convert(v);
      }
      out[map.member] = entries;
    } else if (LISTS[name]) {
      out[LISTS[name]] = items(value).map((item) =>
        typeof item === 'string' ? item : convert(item),
      );
    } else if (typeof value === 'string') {
      out[name] = INTEGERS.has(name) ? integer(name, value) : value;
    } else {
      out[name] = convert(value);
    }
  }
  return out;
}

/** `X.1`, `X.2` ... in index order; a bare `X=v` (older clients) is a one-item list. */
function items(value: Tree | string): Array<Tree | string> {
  if (typeof value === 'string') return [value];
  return Object.keys(value)
    .filter((k) => /^\d+$/.test(k))
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => value[k]!);
}

function integer(name: string, value: string): number {
  if (!/^-?\d+$/.test(value)) {
    throw new QueryError(
      'InvalidParameterValue',
      `Value ${value} for parameter ${name} is invalid. Reason: Must be an integer.`,
    );
  }
  return Number(value);
}

const escapeXml = (s: string) =>
  s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    // An XML parser turns a literal CR into LF; message bodies must come back byte for byte.
    .replaceAll('\r', '&#xD;');

/** A JSON result's members as XML elements, lists and maps flattened the way SQS does. */
function toXml(value: Json, action: string): string {
  let xml = '';
  for (const [name, member] of Object.entries(value)) {
    if (member === undefined || member === null) continue;
    const map = RESULT_MAPS[name];
    const list = name === 'Successful' ? `${action}ResultEntry` : RESULT_LISTS[name];
    if (map && typeof member === 'object' && !Array.isArray(member)) {
      for (const [k, v] of Object.entries(member as Json)) {
        const inner = typeof v === 'object' && v ? toXml(v as Json, action) : escapeXml(String(v));
        xml += `<${map.element}><${map.key}>${escapeXml(k)}</${map.key}><${map.value}>${inner}</${map.value}></${map.element}>`;
      }
    } else if (Array.isArray(member)) {
      const element = list ?? name;
      for (const item of member) xml += elementXml(element, item, action);
    } else {
      xml += elementXml(name, member, action);
    }
  }
  return xml;
}

function elementXml(name: string, value: unknown, action: string): string {
  const inner =
    typeof value === 'object' && value !== null
      ? toXml(value as Json, action)
      : escapeXml(String(value));
  return `<${name}>${inner}</${name}>`;
}

function successXml(action: string, result: Json, requestId: string): string {
  const body = NO_RESULT.has(action)
    ? ''
    : `<${action}Result>${toXml(result, action)}</${action}Result>`;
  return `<?xml version="1.0"?><${action}Response xmlns="${XMLNS}">${body}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
}

function errorXml(err: QueryError, requestId: string): string {
  const { type, code, message } = err;
  return `<?xml version="1.0"?><ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

// JSON error names whose query code differs: SQS namespaces some of them, renames two. fauxqs'
// x-amzn-query-error header namespaces every code, so the codes are derived here instead.
const NAMESPACED = new Set([
  'BatchEntryIdsNotDistinct',
  'BatchRequestTooLong',
  'EmptyBatchRequest',
  'InvalidBatchEntryId',
  'MessageNotInflight',
  'PurgeQueueInProgress',
  'QueueDeletedRecently',
  'TooManyEntriesInBatchRequest',
  'UnsupportedOperation',
]);
const RENAMED: Record<string, string> = {
  QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue',
  QueueNameExists: 'QueueAlreadyExists',
};

/** The query error of a JSON protocol error answer (status, fault header, body). */
function queryErrorOf(status: number, header: unknown, body: string): QueryError {
  let parsed: Json = {};
  try {
    parsed = JSON.parse(body) as Json;
  } catch {
    // Not JSON (e.g. a crash page): an internal error.
  }
  const name = String(parsed.__type ?? '').split('#')[1] || 'InternalError';
  const code = RENAMED[name] ?? (NAMESPACED.has(name) ? `AWS.SimpleQueueService.${name}` : name);
  const message = String(parsed.message ?? parsed.Message ?? 'Internal error');
  const fault = typeof header === 'string' ? header.split(';')[1] : undefined;
  const type = fault === 'Receiver' || (!fault && status >= 500) ? 'Receiver' : 'Sender';
  return new QueryError(code, message, status, type);
}

/**
 * Answers query-protocol SQS requests on `app` (any path: older SDKs post to the queue URL
 * itself); everything else (JSON, SNS's query requests, S3) passes through untouched.
 */
export function registerQueryProtocol(app: App): void {
  app.addHook('preHandler', async (request, reply) => {
    const contentType = request.headers['content-type'] ?? '';
    const params = (
      request.method === 'POST' && contentType.includes('application/x-www-form-urlencoded')
        ? request.body
        : request.method === 'GET'
          ? request.query
          : undefined
    ) as Record<string, string> | undefined;
    const action = params?.Action;
    if (!params || typeof action !== 'string') return;
    // Unknown to SQS: SNS answers its own actions; an SQS-versioned one is ours to refuse.
    if (!SQS_ACTIONS.has(action) && params.Version !== '2012-11-05') return;
    const requestId = randomUUID();
    const answer = (status: number, xml: string) =>
      reply
        .code(status)
        .header('content-type', 'text/xml')
        .header('x-amzn-requestid', requestId)
        .send(xml);
    try {
      if (!SQS_ACTIONS.has(action)) {
        throw new QueryError(
          'InvalidAction',
          `The action ${action} is not valid for this endpoint.`,
        );
      }
      const json = toJsonRequest(action, params);
      const path = request.url.split('?')[0]!;
      if (json.QueueUrl === undefined && /^\/\d{12}\/[^/]+$/.test(path)) {
        json.QueueUrl = `http://${request.headers.host}${path}`;
      }
      const res = await app.inject({
        method: 'POST',
        url: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `AmazonSQS.${action}`,
          // Queue URLs follow the Host header; the region of ARNs the SigV4 scope.
          ...(request.headers.host ? { host: request.headers.host } : {}),
          ...(request.headers.authorization
            ? { authorization: request.headers.authorization }
            : {}),
        },
        payload: JSON.stringify(json),
      });
      if (res.statusCode !== 200) {
        throw queryErrorOf(res.statusCode, res.headers['x-amzn-query-error'], res.body);
      }
      const result = res.body ? (JSON.parse(res.body) as Json) : {};
      return answer(200, successXml(action, result, requestId));
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      return answer(err.status, errorXml(err, requestId));
    }
  });
}
