// Cold start of a bundled handler on a given event:
//   node bench/children/coldStartEvent.mjs <bundle> <event.json>
// Prints the answer's status as soon as it has it (the parent times spawn -> that line).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [bundle, eventFile] = process.argv.slice(2);
process.on('uncaughtException', (error) => {
  process.stdout.write(`BENCH ${JSON.stringify({ error: error.message })}\n`);
  process.exit(1);
});
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const { handler } = await import(pathToFileURL(bundle).href);
const answer = await handler(event);
process.stdout.write(`BENCH ${JSON.stringify({ statusCode: answer.statusCode, body: String(answer.body).slice(0, 300) })}\n`);
process.exit(0);
