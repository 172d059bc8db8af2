// `shardctl source ...`: one self-contained registration, easy to port to another parser.
import { listHeld, releaseHeld, setSourceSchedule, sourceLast, syncNow } from './source.ts';
import type { Target } from './target.ts';

export const SOURCE_USAGE = `  source last                              the last source sync's summary (drift by kind, held, asOf, errors)
  source sync-now                          run source reconciliation once
  source pause|resume                      disable / enable the source-sync schedule (AWS)
  source held                              deletions the safety cap held back
  source release-held [--dry-run]          send the held deletions, then forget them`;

export async function runSourceCommand(
  target: Target,
  sub: string | undefined,
  dryRun: boolean,
  print: (value: unknown) => void,
): Promise<number> {
  switch (sub) {
    case 'last':
      print(await sourceLast(target));
      return 0;
    case 'sync-now':
      print(await syncNow(target));
      return 0;
    case 'pause':
    case 'resume':
      console.log(`schedule ${await setSourceSchedule(target, sub)} ${sub}d`);
      return 0;
    case 'held':
      print(await listHeld(target));
      return 0;
    case 'release-held': {
      const result = await releaseHeld(target, { dryRun });
      print(dryRun ? result.messages : result);
      console.log(
        dryRun
          ? `would release ${result.held} held deletions`
          : `released ${result.released} of ${result.held} held deletions`,
      );
      return result.released === result.held || dryRun ? 0 : 1;
    }
    default:
      console.error(`unknown source command: ${sub ?? '(none)'}\n\n${SOURCE_USAGE}`);
      return 2;
  }
}
