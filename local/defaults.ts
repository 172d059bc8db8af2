// The local stack's defaults: region, account, stage, ports and its development secrets.
// Only the local stack and tools pointed at it use these; nothing deployed reads them.

export const LOCAL = {
  region: 'us-east-1',
  accountId: '000000000000',
  stage: 'local',
  ports: {
    sqs: 9324,
    dynamodb: 8000,
    ssm: 4583,
    scheduler: 4584,
    lambda: 4585,
    citrus: 8080,
    source: 8090,
    firstNode: 9101,
  },
  citrusApiKey: 'local-citrus-api-key',
  sourceToken: 'local-source-token',
  nodeSigningKeys: '{"current":{"id":"local-1","secret":"local-dev-signing-secret"}}',
} as const;
