/**
 * Runs `work` over `items` with at most `limit` in flight and returns one settled outcome
 * per item, in order. Never rejects: one item's failure does not stop the others.
 */
export async function mapSettled<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await work(items[index] as T, index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Serialises work per key inside one process: records for the same entity in one batch run
 * one after another (so the second sees the first's writes) while different keys run in
 * parallel.
 */
export class KeyedSerializer {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<R>(key: string, work: () => Promise<R>): Promise<R> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}

/**
 * Reads shared by the records of one batch, by key: the first record that needs one starts it,
 * the others wait for the same answer. A failed read is forgotten, so the next record reads again.
 */
export class SharedReads<T> {
  readonly #reads = new Map<string, Promise<T>>();

  get(key: string, read: () => Promise<T>): Promise<T> {
    let pending = this.#reads.get(key);
    if (!pending) {
      const started = read();
      this.#reads.set(key, started);
      started.catch(() => {
        if (this.#reads.get(key) === started) this.#reads.delete(key);
      });
      pending = started;
    }
    return pending;
  }
}
