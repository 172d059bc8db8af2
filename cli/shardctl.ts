#!/usr/bin/env node
// shardctl: the operator's CLI. `npx shardctl --help` (after `npm install`), or
// `npm run shardctl -- <command>` from a checkout.
import './shardctl/quiet-sdk.ts';
import { run } from './shardctl/program.ts';

run(process.argv).then((code) => {
  process.exitCode = code;
});
