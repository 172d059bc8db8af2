import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Wraps a secret so that it cannot leak by accident: logging, JSON.stringify, string
 * interpolation and util.inspect all print `[redacted]`. Only `reveal()` gives the value.
 */
export class Secret<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
