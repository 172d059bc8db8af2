/**
 * The two ways a record can fail. Handlers map them to SQS semantics: a permanent failure
 * is poison (moved to the DLQ at once, never retried); a transient one is retried by SQS.
 * Messages must never contain secrets: they end up in logs and DLQ attributes.
 */
export class PermanentError extends Error {
  override readonly name: string = 'PermanentError';
}

export class TransientError extends Error {
  override readonly name: string = 'TransientError';
}

export function isPermanent(error: unknown): boolean {
  return error instanceof PermanentError;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
