// zod/mini keeps bundles small; the English locale (imported alone: the `zod/locales` index
// would pull in every language) gives operators readable failure reasons on poison messages.
// Modules import `* as z from 'zod/mini'` themselves so esbuild can drop what they do not use.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());

/** Flattens a zod error into one line: `data.locationId: Invalid string; ...`. */
export function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
