// `npm run docs:diagram`: renders docs/architecture.dot to docs/architecture.svg with Graphviz
// (`dot` on the PATH; on Debian/Ubuntu `apt-get install graphviz`, on macOS `brew install
// graphviz`). The SVG carries the SHA-256 of the source (line endings normalised to \n) in a
// comment, so test/docs/architecture-diagram.test.ts tells a stale SVG from an up-to-date one
// without needing Graphviz.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('architecture.dot', import.meta.url));
const target = fileURLToPath(new URL('architecture.svg', import.meta.url));

const text = readFileSync(source, 'utf8').replace(/\r\n/g, '\n');
const hash = createHash('sha256').update(text).digest('hex');
const rendered = execFileSync('dot', ['-Tsvg', `-Gcomment=sourceSha256=${hash}`, source], {
  encoding: 'utf8',
});
// Graphviz gives the <svg> element no title of its own: add one (accessibility, and lint).
const open = rendered.indexOf('>', rendered.indexOf('<svg')) + 1;
const svg = `${rendered.slice(0, open)}\n<title>shard-control architecture</title>${rendered.slice(open)}`;
writeFileSync(target, svg);
console.log(`rendered docs/architecture.svg (sourceSha256=${hash})`);
