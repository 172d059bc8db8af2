// zod/mini keeps bundles small (~15 KiB instead of ~440 KiB); the English locale gives
// operators readable failure reasons on poison messages.

import { en } from 'zod/locales';
import * as z from 'zod/mini';

z.config(en());

export { z };

/** Flattens a zod error into one line: `data.locationId: Invalid string; ...`. */
export function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
