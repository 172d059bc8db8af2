// `npm run send -- <event file|dir> [...]`: acts as the management server, sending validated
// messages to their queue on the local SQS (or SQS_ENDPOINT).
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QUEUE_OF_TYPE } from '../../shared/contracts/messages.ts';
import { LOCAL } from '../defaults.ts';
import { loadEvents } from './events.ts';

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
  try {
    for (const { file, message } of events) {
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
