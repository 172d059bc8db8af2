import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Slowest kinds of file first, each group in vitest's own order (longest first once a run has
 * recorded durations, larger files first on a fresh clone): the chaos run, the synthesis
 * files, then the files that start a local stack, then the rest. The long files then overlap
 * the many short ones instead of finishing last, alone.
 */
const GROUPS = [
  /\/test\/integration\/chaos\.test\.ts$/,
  // CPU-bound synthesis beside the chaos run, which mostly waits on its schedule; the infra
  // files back to back, so one warm worker (isolate: false) takes most of them.
  /\/test\/infra\/main\.test\.ts$/,
  /\/test\/infra\//,
  /\/test\/(integration\/|cli\/shardctl\/cli\.test\.ts$|local\/emulators\/sqs-aws-cli)/,
  /./,
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const group = (f: TestSpecification) => GROUPS.findIndex((g) => g.test(f.moduleId));
    // Array sort is stable: within a group, vitest's order stays.
    return sorted.sort((a, b) => group(a) - group(b));
  }
}
