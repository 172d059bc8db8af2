// CDK CLI entry (`cdk.json`): `npx cdk synth -c stage=dev`.
import { App } from 'aws-cdk-lib';
import { buildApp } from './app.ts';

// A throwaway App only to read `-c stage=...` (CLI context arrives via the environment);
// autoSynth off so it never writes into the CLI's output directory.
const stage: unknown = new App({ autoSynth: false }).node.tryGetContext('stage');
if (typeof stage !== 'string' || stage === '') {
  throw new Error('context "stage" is required: npx cdk synth -c stage=dev');
}
buildApp({ stage }).app.synth();
