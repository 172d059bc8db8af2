// `npm run send -- <event file|dir> [...]`: acts as the management server, recording each event
// at the management server simulator (SOURCE_SERVER_URL or SOURCE_PORT), as a real one commits
// before it sends, then sending the validated message to its queue on the local SQS (or
// SQS_ENDPOINT). SOURCE_DROP_RATE (0..1) skips sending that share of them after recording.
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QUEUE_OF_TYPE } from '../../shared/contracts/messages.ts';
import { LOCAL } from '../defaults.ts';
import { loadEvents } from './events.ts';
import { dropRateFromEnv, pickDropped, recordAtSource, sourceServerUrl } from './source-record.ts';

// Local tooling on Node 20 by design: the SDK's Node 22 notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help')) {
    console.error('usage: npm run send -- <event.json|dir> [...]   (env SQS_ENDPOINT, SQS_PORT)');
    return argv.length === 0 ? 2 : 0;
  }
  const events = loadEvents(argv);
  const endpoint =
    process.env.SQS_ENDPOINT || `http://127.0.0.1:${process.env.SQS_PORT || LOCAL.ports.sqs}`;
  const sqs = new SQSClient({
    region: process.env.AWS_REGION || LOCAL.region,
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const urls = new Map<string, string>();
  const source = sourceServerUrl(process.env);
  const dropped = pickDropped(events.length, dropRateFromEnv(process.env, 0));
  let recording = true;
  try {
    for (const [index, { file, message }] of events.entries()) {
      if (recording) {
        try {
          await recordAtSource(source, message);
        } catch (error) {
          // No management server (external Citrus without SOURCE_SERVER_URL): send only.
          recording = false;
          console.warn(`not recording at ${source}: ${(error as Error).message}`);
        }
      }
      if (dropped.has(index)) {
        console.log(`${message.type} recorded, not sent (SOURCE_DROP_RATE)  ${file}`);
        continue;
      }
      const queue = QUEUE_OF_TYPE[message.type];
      let url = urls.get(queue);
      if (!url) {
        url = (await sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl!;
        urls.set(queue, url);
      }
      const out = await sqs.send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(message) }),
      );
      console.log(`${message.type} -> ${queue} (${out.MessageId})  ${file}`);
    }
  } finally {
    sqs.destroy();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`send: ${err.message}`);
    process.exit(1);
  },
);
