// The state table's stores, one per aggregate, over one shared client and clock.
import type { Stores } from '../domain/ports.ts';
import { Locations } from './locations.ts';
import { Nodes } from './nodes.ts';
import { Resources } from './resources.ts';
import { Shards } from './shards.ts';
import { SourceStateReader, SourceStore } from './source.ts';
import { Sweeps } from './sweeps.ts';
import { Table, type TableOptions } from './table.ts';
import { Workspaces } from './workspaces.ts';

export interface TableStores extends Stores {
  table: Table;
  locations: Locations;
  shards: Shards;
  nodes: Nodes;
  resources: Resources;
  workspaces: Workspaces;
  sweeps: Sweeps;
  source: SourceStore;
  sourceReader: SourceStateReader;
}

export function createStores(options: TableOptions): TableStores {
  const table = new Table(options);
  return {
    table,
    locations: new Locations(table),
    shards: new Shards(table),
    nodes: new Nodes(table),
    resources: new Resources(table),
    workspaces: new Workspaces(table),
    sweeps: new Sweeps(table),
    source: new SourceStore(table),
    sourceReader: new SourceStateReader(table),
  };
}

export { Table, type TableOptions } from './table.ts';
