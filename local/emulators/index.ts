// Local AWS emulators: SQS, DynamoDB and SSM Parameter Store, in-process.
export { type DynamoDbEmulator, startDynamoDbEmulator } from './dynamodb.ts';
export { type SqsEmulator, startSqsEmulator } from './sqs.ts';
export { type SsmEmulator, startSsmEmulator } from './ssm.ts';
export {
  type EmulatorKind,
  type EmulatorSpec,
  type RemoteEmulator,
  startEmulatorThread,
} from './threaded.ts';
