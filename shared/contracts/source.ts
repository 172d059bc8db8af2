// The management server's read-only listing API: what source reconciliation compares our state
// with. Objects are not strict: the source may add fields, and unknown ones are ignored.
import * as z from 'zod/mini';
import { BusinessType, Identifier, Timestamp } from './messages.ts';
import './zod.ts';

/** Page size bounds of the listing endpoints; the server's default is 500. */
export const SOURCE_PAGE_MIN = 1;
export const SOURCE_PAGE_MAX = 1000;
export const SOURCE_PAGE_DEFAULT = 500;

export const SOURCE_PATHS = {
  locations: '/internal/locations',
  workspaces: '/internal/workspaces',
} as const;

export const SourceLocation = z.object({
  businessId: Identifier,
  locationId: Identifier,
  businessType: BusinessType,
  updatedAt: Timestamp,
});

export const SOURCE_WORKSPACE_STATUSES = ['active', 'deleted'] as const;

export const SourceWorkspace = z.object({
  workspaceId: Identifier,
  userId: Identifier,
  businessId: Identifier,
  locationId: Identifier,
  status: z.enum(SOURCE_WORKSPACE_STATUSES),
  updatedAt: Timestamp,
});

// An absent, null or empty nextCursor all mean "last page".
const NextCursor = z.optional(z.nullable(z.string()));

export const LocationsPage = z.object({
  locations: z.array(SourceLocation),
  nextCursor: NextCursor,
  asOf: Timestamp,
});

export const WorkspacesPage = z.object({
  workspaces: z.array(SourceWorkspace),
  nextCursor: NextCursor,
  asOf: Timestamp,
});

export type SourceLocation = z.infer<typeof SourceLocation>;
export type SourceWorkspace = z.infer<typeof SourceWorkspace>;
export type SourceWorkspaceStatus = SourceWorkspace['status'];
export type LocationsPage = z.infer<typeof LocationsPage>;
export type WorkspacesPage = z.infer<typeof WorkspacesPage>;
