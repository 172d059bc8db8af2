import * as z from 'zod/mini';
import { describeIssues } from './zod.ts';

const IDENTIFIER = /^[A-Za-z0-9._:-]{1,128}$/;
const BUSINESS_TYPE = /^[a-z][a-z0-9_-]{0,63}$/;

/** Identifiers: 1..128 characters of `[A-Za-z0-9._:-]` (README "Message contract"). */
export const Identifier = z
  .string()
  .check(z.regex(IDENTIFIER, 'must be 1..128 of [A-Za-z0-9._:-]'));
export const BusinessType = z
  .string()
  .check(z.regex(BUSINESS_TYPE, 'must match ^[a-z][a-z0-9_-]{0,63}$'));
/** ISO-8601 UTC (`Z`, no offset), as every timestamp in messages and state. */
export const Timestamp = z.iso.datetime({
  offset: false,
  error: 'must be an ISO-8601 UTC timestamp',
});

export const ShardCreateData = z.strictObject({
  businessId: Identifier,
  locationId: Identifier,
  businessType: BusinessType,
});

export const WorkspaceData = z.strictObject({
  workspaceId: Identifier,
  userId: Identifier,
  businessId: Identifier,
  locationId: Identifier,
});

export const CONVERGE_REASONS = ['manual', 'node_joined', 'drift', 'verify', 'retry'] as const;
export const ShardConvergeData = z.strictObject({
  shardId: Identifier,
  reason: z.enum(CONVERGE_REASONS),
  requestedBy: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});

function envelope<T extends string, D extends z.ZodMiniType>(type: T, data: D) {
  return z.object({
    type: z.literal(type),
    version: z.literal(1),
    id: Identifier,
    occurredAt: Timestamp,
    data,
  });
}

export const ShardCreateMessage = envelope('shard.create', ShardCreateData);
export const WorkspaceCreatedMessage = envelope('workspace.created', WorkspaceData);
export const WorkspaceDeletedMessage = envelope('workspace.deleted', WorkspaceData);
export const ShardConvergeMessage = envelope('shard.converge', ShardConvergeData);

export const Message = z.discriminatedUnion('type', [
  ShardCreateMessage,
  WorkspaceCreatedMessage,
  WorkspaceDeletedMessage,
  ShardConvergeMessage,
]);

export type ShardCreateData = z.infer<typeof ShardCreateData>;
export type WorkspaceData = z.infer<typeof WorkspaceData>;
export type ShardConvergeData = z.infer<typeof ShardConvergeData>;
export type ConvergeReason = (typeof CONVERGE_REASONS)[number];
export type ShardCreateMessage = z.infer<typeof ShardCreateMessage>;
export type WorkspaceCreatedMessage = z.infer<typeof WorkspaceCreatedMessage>;
export type WorkspaceDeletedMessage = z.infer<typeof WorkspaceDeletedMessage>;
export type WorkspaceMessage = WorkspaceCreatedMessage | WorkspaceDeletedMessage;
export type ShardConvergeMessage = z.infer<typeof ShardConvergeMessage>;
export type Message = z.infer<typeof Message>;
export type MessageType = Message['type'];

export const MESSAGE_TYPES: readonly MessageType[] = [
  'shard.create',
  'workspace.created',
  'workspace.deleted',
  'shard.converge',
];

/** Which queue each message type belongs on (README "Message contract"). */
export const QUEUE_OF_TYPE = {
  'shard.create': 'shard-creation',
  'workspace.created': 'workspace-lifecycle',
  'workspace.deleted': 'workspace-lifecycle',
  'shard.converge': 'convergence',
} as const satisfies Record<MessageType, string>;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; reason: string };

/**
 * Parses a raw SQS body. Never throws: any failure is a human-readable reason that ends up
 * as the poison message's `failureReason`, so it names fields, never echoes values.
 */
export function parseMessage<T extends Message = Message>(
  body: string,
  accepted: readonly T['type'][] = MESSAGE_TYPES as T['type'][],
): ParseResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'body is not a JSON object' };
  }
  // JSON.parse keeps the last of two equal keys, other parsers the first: a producer that
  // validated such a body may have meant another message than the one we would act on. Like an
  // unknown data field, it is a producer bug that must surface.
  const duplicate = duplicateKey(body);
  if (duplicate !== undefined) {
    return {
      ok: false,
      reason: `duplicate key ${JSON.stringify(duplicate).slice(0, 80)} in one object of the body`,
    };
  }
  const { type, version } = json as { type?: unknown; version?: unknown };
  if (typeof type !== 'string' || !MESSAGE_TYPES.includes(type as MessageType)) {
    return {
      ok: false,
      reason: `unknown message type ${JSON.stringify(String(type)).slice(0, 80)}`,
    };
  }
  if (!accepted.includes(type as T['type'])) {
    return { ok: false, reason: `message type ${type} does not belong on this queue` };
  }
  if (version !== 1) {
    return { ok: false, reason: `unsupported version ${JSON.stringify(version)} of ${type}` };
  }
  const parsed = Message.safeParse(json);
  if (!parsed.success) {
    return { ok: false, reason: `invalid ${type}: ${describeIssues(parsed.error)}` };
  }
  return { ok: true, message: parsed.data as T };
}

/**
 * The first key that appears twice in one object of a JSON text, or undefined. Only for text
 * that JSON.parse accepted: the scan relies on it being well-formed.
 */
export function duplicateKey(text: string): string | undefined {
  // One frame per open container: the keys seen so far for an object, undefined for an array.
  const stack: Array<Set<string> | undefined> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = i + 1;
      while (text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1;
      if (expectKey) {
        const raw = text.slice(i, end + 1);
        // Escapes spell the same key differently ("\u0074ype" is "type"): compare decoded.
        const key: string = raw.includes('\\') ? JSON.parse(raw) : raw.slice(1, -1);
        const keys = stack[stack.length - 1]!;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(undefined);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== undefined;
    }
  }
  return undefined;
}
