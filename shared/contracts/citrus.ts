import * as z from 'zod/mini';
import { Identifier } from './messages.ts';
import './zod.ts';

export const RegisterResponse = z.object({
  shardKey: z.string().check(z.minLength(1)),
  shardId: Identifier,
});

export const CitrusNode = z.object({ nodeId: Identifier, endpoint: z.url() });

export const ShardDetails = z.object({
  shardKey: z.string(),
  shardId: Identifier,
  role: z.string().check(z.minLength(1)),
  connectionString: z.optional(z.string()),
  nodes: z.array(CitrusNode),
});

export const ShardHealthPage = z.object({
  shards: z.array(
    z.object({
      shardId: Identifier,
      role: z.string(),
      status: z.enum(['healthy', 'degraded', 'down']),
      nodes: z.array(z.extend(CitrusNode, { healthy: z.boolean() })),
    }),
  ),
  nextCursor: z.optional(z.nullable(z.string())),
});

export type RegisterResponse = z.infer<typeof RegisterResponse>;
export type CitrusNode = z.infer<typeof CitrusNode>;
export type ShardDetails = z.infer<typeof ShardDetails>;
export type ShardHealthPage = z.infer<typeof ShardHealthPage>;
