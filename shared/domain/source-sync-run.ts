// One source-sync run: list the management server (incrementally every run, everything every
// Nth run), compare with our state, send the missing events to the ordinary queues, and
// remember where it got to. The comparison itself is the pure plan of source-sync.ts.
import type { SourceLocation, SourceWorkspace } from '../contracts/source.ts';
import { errorMessage } from './errors.ts';
import type { SourceCursor, SourceStateStore, SourceSyncSummary } from './ports.ts';
import {
  type AbsenceMemory,
  type DeletionSettings,
  type FullSnapshotPlan,
  loadOurState,
  nextUpdatedSince,
  planFullSnapshot,
  planIncremental,
  type RepairEvent,
  type SourceSyncStateReader,
  type SyncPlan,
} from './source-sync.ts';

/** What the run needs of a listing client (the adapter's SourceClient fits). */
export interface ListingPort {
  listLocations(options: ListRequest): Promise<ListResult<SourceLocation>>;
  listWorkspaces(options: ListRequest): Promise<ListResult<SourceWorkspace>>;
}

export interface ListRequest {
  updatedSince?: string;
  cursor?: string;
  asOf?: string;
  limit?: number;
  shouldStop?: () => boolean;
}

export interface ListResult<T> {
  items: T[];
  asOf: string;
  complete: boolean;
  nextCursor?: string;
}

export interface SourceSyncPorts {
  state: SourceStateStore;
  reader: SourceSyncStateReader;
  source: ListingPort;
  /** Sends the repair events to their queues; returns the ids that could not be sent. */
  send(messages: readonly RepairEvent[]): Promise<string[]>;
  remainingMs(): number;
}

export interface SourceSyncSettings extends DeletionSettings {
  /** Every Nth run also lists everything (the only way absence can be noticed). */
  fullSyncEvery: number;
  /** Listing stops (with a cursor for the next run) when less Lambda time than this is left. */
  reserveMs: number;
  pageSize?: number;
  clock?: () => Date;
}

const FIRST_UPDATED_SINCE = new Date(0).toISOString();

interface Step {
  full: boolean;
  listing: SourceCursor['listing'];
}

interface Collected {
  locations: SourceLocation[];
  workspaces: SourceWorkspace[];
  /** asOf of the incremental listings read to their end (this run, or resumed). */
  incrementalAsOf: string[];
  fullAsOf?: string;
  /** Both full listings were read to their last page within this run. */
  fullComplete: boolean;
  /** Every listing this run meant to read was read to its end. */
  complete: boolean;
  cursor?: SourceCursor;
}

/** Runs one source sync; listing failures are in `errors` (nothing is deleted then). */
export async function runSourceSync(
  ports: SourceSyncPorts,
  settings: SourceSyncSettings,
): Promise<SourceSyncSummary> {
  const clock = settings.clock ?? (() => new Date());
  const started = clock();
  const state = await ports.state.get();
  const runCount = state.runCount + 1;
  const resume = state.cursor;
  // Without an asOf nothing is known yet: start with everything.
  const full = resume
    ? resume.full
    : state.asOf === undefined || runCount % settings.fullSyncEvery === 0;
  const errors: string[] = [];
  const steps: Step[] = [
    { full: false, listing: 'locations' },
    { full: false, listing: 'workspaces' },
  ];
  if (full) steps.push({ full: true, listing: 'locations' }, { full: true, listing: 'workspaces' });
  // The first run lists every change the source still keeps, deletions included: a full
  // snapshot alone would see a missed deletion only as absence (grace period, safety cap).
  const updatedSince =
    resume?.updatedSince ?? (state.asOf ? nextUpdatedSince(state.asOf) : FIRST_UPDATED_SINCE);

  const collected = await list(ports, settings, { full, steps, updatedSince }, resume, errors);

  let plan: SyncPlan | FullSnapshotPlan;
  let memory: AbsenceMemory | undefined;
  const listing = {
    locations: collected.locations,
    workspaces: collected.workspaces,
    asOf: collected.fullAsOf ?? collected.incrementalAsOf[0] ?? started.toISOString(),
  };
  if (collected.fullComplete && collected.fullAsOf && errors.length === 0) {
    const [ours, remembered] = await Promise.all([
      loadOurState(listing, ports.reader, { full: true }),
      ports.state.loadAbsence(),
    ]);
    memory = remembered;
    plan = planFullSnapshot({ ...listing, complete: true }, ours, memory, settings);
  } else {
    plan = planIncremental(listing, await loadOurState(listing, ports.reader, { full: false }));
  }

  // The same event can be planned twice when a run lists incrementally and fully.
  const messages = [...new Map(plan.repairs.map((r) => [r.message.id, r.message])).values()];
  const unsent = messages.length > 0 ? await ports.send(messages) : [];
  if (unsent.length > 0) {
    errors.push(`${unsent.length} repair events not sent (first ${unsent[0]})`);
  }

  let held = 0;
  let waiting = 0;
  let heldTotal: number | undefined;
  if (memory && 'absence' in plan) {
    held = plan.held.length;
    waiting = plan.waiting;
    const still = new Set([...plan.stillHeld, ...plan.held.map((h) => h.workspaceId)]);
    heldTotal = still.size;
    const lapsed = [...(memory.held ?? [])].filter((id) => !still.has(id));
    await Promise.all([
      ports.state.saveAbsence(plan.absence, memory.absentSince),
      plan.held.length > 0 ? ports.state.hold(plan.held) : undefined,
      lapsed.length > 0 ? ports.state.release(lapsed) : undefined,
    ]);
  }

  // The next incremental listing starts from the earliest asOf of this pass, and only once
  // every listed change has been sent on: otherwise the same window is listed again.
  const bases = collected.incrementalAsOf;
  const advance = collected.complete && errors.length === 0 && bases.length > 0;
  const asOf = advance ? [...bases].sort()[0] : undefined;
  const finished = clock();
  const summary: SourceSyncSummary = {
    runCount,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    full,
    complete: collected.complete,
    ...(asOf ? { asOf } : {}),
    ...(collected.cursor ? { cursor: collected.cursor } : {}),
    counts: plan.counts,
    repairsSent: messages.length - unsent.length,
    repairsFailed: unsent.length,
    ...('deletions' in plan ? { deletions: plan.deletions } : {}),
    held,
    ...(heldTotal !== undefined ? { heldTotal } : {}),
    waiting,
    errors,
  };
  await ports.state.writeSummary(summary);
  return summary;
}

/**
 * Reads the run's listings in order, resuming the one a previous run stopped in. Stops at the
 * first failure (recorded in `errors`) or when time runs short (a cursor for the next run).
 */
async function list(
  ports: SourceSyncPorts,
  settings: SourceSyncSettings,
  run: { full: boolean; steps: readonly Step[]; updatedSince: string },
  resume: SourceCursor | undefined,
  errors: string[],
): Promise<Collected> {
  const { steps, updatedSince } = run;
  const collected: Collected = {
    locations: [],
    workspaces: [],
    // The locations listing a resumed run already finished still bounds where the next starts.
    incrementalAsOf: resume?.incrementalAsOf ? [resume.incrementalAsOf] : [],
    fullComplete: false,
    complete: false,
  };
  const shouldStop = () => ports.remainingMs() < settings.reserveMs;
  let start = 0;
  if (resume) {
    const snapshot = resume.snapshot === true;
    start = steps.findIndex((s) => s.full === snapshot && s.listing === resume.listing);
    if (start < 0) start = 0;
  }
  let fullSteps = 0;
  for (let i = start; i < steps.length; i++) {
    const step = steps[i] as Step;
    const resuming = resume && i === start ? resume : undefined;
    const request: ListRequest = {
      ...(step.full ? {} : { updatedSince }),
      ...(settings.pageSize ? { limit: settings.pageSize } : {}),
      ...(resuming ? { cursor: resuming.cursor, asOf: resuming.asOf } : {}),
      shouldStop,
    };
    let result: ListResult<SourceLocation> | ListResult<SourceWorkspace>;
    try {
      if (step.listing === 'locations') {
        const locations = await ports.source.listLocations(request);
        collected.locations.push(...locations.items);
        result = locations;
      } else {
        const workspaces = await ports.source.listWorkspaces(request);
        collected.workspaces.push(...workspaces.items);
        result = workspaces;
      }
    } catch (error) {
      errors.push(
        `listing ${step.full ? 'all' : 'changed'} ${step.listing}: ${errorMessage(error)}`,
      );
      return collected;
    }
    if (!result.complete) {
      if (result.nextCursor) {
        collected.cursor = {
          full: run.full,
          ...(step.full ? { snapshot: true } : {}),
          listing: step.listing,
          cursor: result.nextCursor,
          asOf: result.asOf,
          ...(step.full ? {} : { updatedSince }),
          ...(collected.incrementalAsOf.length
            ? { incrementalAsOf: [...collected.incrementalAsOf].sort()[0] }
            : {}),
        };
      }
      return collected;
    }
    if (step.full) {
      collected.fullAsOf ??= result.asOf;
      // A resumed full listing lost the pages of the run before: no absence from it.
      if (!resuming) fullSteps++;
    } else {
      collected.incrementalAsOf.push(result.asOf);
    }
  }
  collected.complete = true;
  collected.fullComplete = fullSteps === 2;
  return collected;
}
