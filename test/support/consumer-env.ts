// The environment the shared SQS consumer reads, for unit tests that build one without a stack:
// queue URLs of `queue` and its DLQ, the default retry base, and Powertools kept quiet.
export function consumerTestEnv(queue: string): Record<string, string> {
  return {
    DLQ_URL: `https://sqs.us-east-1.amazonaws.com/1/${queue}-dlq`,
    SOURCE_QUEUE_URL: `https://sqs.us-east-1.amazonaws.com/1/${queue}`,
    RETRY_BASE_SECONDS: '30',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_NAMESPACE: 'ShardControl/test',
    POWERTOOLS_SERVICE_NAME: queue,
    AWS_REGION: 'us-east-1',
  };
}
