// Placeholder until the shard-creation flow lands; keeps `cdk synth` working meanwhile.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

export const handler = async (_event: SQSEvent): Promise<SQSBatchResponse> => ({
  batchItemFailures: [],
});
