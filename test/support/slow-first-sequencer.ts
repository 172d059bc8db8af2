import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The chaos run: the longest file, first. */
const FIRST = /\/test\/integration\/chaos\.test\.ts$/;
/**
 * CPU-bound synthesis, back to back right after it, so one warm worker (isolate: false) takes
 * most of them: a worker whose next file belongs to another project is replaced.
 */
const INFRA = [/\/test\/infra\/main\.test\.ts$/, /\/test\/infra\//];
/**
 * Files that mostly wait (schedules, visibility timeouts, retry delays) with a core to spare:
 * they go out alternately with the files that keep a core busy, so the two cores stay busy
 * throughout rather than contended at the start and idle at the end.
 */
const WAITING =
  /\/test\/(integration\/(?!workspace-lifecycle)|local\/runtime\/event-source|shared\/store\/stores|local\/emulators\/sqs\.test)/;

/**
 * The busy files that take longest (a local stack driven through spawned clients, property
 * tests over the emulators): first among the busy ones, also on a fresh clone, where vitest
 * has no durations yet and orders by size.
 */
const BUSY_FIRST =
  /\/test\/(cli\/shardctl\/cli\.test|local\/emulators\/sqs-aws-cli|local\/cli\/start\.test|integration\/workspace-lifecycle|shared\/domain\/(workspace-lifecycle|convergence|retry)\.test)/;

/**
 * Slowest files first (vitest's own order within each kind: longest first once a run has
 * recorded durations, larger files first on a fresh clone): the chaos run, the synthesis files,
 * the isolated files, then the waiting files and the busy ones alternately.
 */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const take = (match: (f: TestSpecification) => boolean) => {
      const taken = sorted.filter(match);
      for (const f of taken) sorted.splice(sorted.indexOf(f), 1);
      return taken;
    };
    const first = take((f) => FIRST.test(f.moduleId));
    const infra = INFRA.flatMap((pattern) => take((f) => pattern.test(f.moduleId)));
    const waiting = take((f) => WAITING.test(f.moduleId));
    // The main project's (vitest.config.ts): its workers take file after file.
    const busy = [
      ...take((f) => f.project.name === 'main' && BUSY_FIRST.test(f.moduleId)),
      ...take((f) => f.project.name === 'main'),
    ];
    const mixed: TestSpecification[] = [];
    for (let i = 0; i < Math.max(waiting.length, busy.length); i++) {
      if (waiting[i]) mixed.push(waiting[i]!);
      if (busy[i]) mixed.push(busy[i]!);
    }
    // The isolated files (each in a fresh process) between the synthesis and the rest.
    return [...first, ...infra, ...sorted, ...mixed];
  }
}
