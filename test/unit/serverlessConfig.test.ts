/**
 * The deployed wiring, read from the real configuration as the framework resolves it
 * (`serverless print --format json`: variables and params filled in), checked against the code:
 * batch triggers cannot fire on batch outputs, the local emulation (scripts/start.ts) filters
 * exactly as the S3 rules do, and each function ships only its own bundle.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { S3EventRecord } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { routeList } from '../../lib/api/routes/index.js';
import { INPUT_PREFIX, INPUT_SUFFIXES, OUTPUT_PREFIX, outputsFor, parseInputKey } from '../../lib/batch/paths.js';
import { BATCH_FUNCTION, isBatchUpload } from '../../scripts/local/batchEvents.js';

interface S3Rule {
  prefix?: string;
  suffix?: string;
}
interface S3Trigger {
  bucket: string;
  event: string;
  existing?: boolean;
  rules?: S3Rule[];
}
type HttpApiEvent = string | { method: string; path: string; authorizer?: { type?: string; name?: string } };
interface FunctionConfig {
  handler: string;
  package?: { patterns?: string[] };
  events?: Array<{ s3?: S3Trigger; httpApi?: HttpApiEvent } & Record<string, unknown>>;
}
interface Printed {
  service: string;
  provider: { stage: string };
  package?: { individually?: boolean };
  functions: Record<string, FunctionConfig>;
}

let config: Printed;
beforeAll(async () => {
  const { stdout } = await promisify(execFile)(path.resolve('node_modules/.bin/serverless'), ['print', '--format', 'json'], {
    cwd: path.resolve('.'),
    maxBuffer: 16 * 1024 * 1024,
  });
  config = JSON.parse(stdout) as Printed;
}, 60_000);

const s3Triggers = () => Object.entries(config.functions).flatMap(([name, fn]) => (fn.events ?? []).filter((e) => e.s3).map((e) => ({ name, s3: e.s3! })));
const ruleOf = (trigger: S3Trigger) => ({
  prefix: trigger.rules?.find((r) => r.prefix !== undefined)?.prefix ?? '',
  suffix: trigger.rules?.find((r) => r.suffix !== undefined)?.suffix ?? '',
});
/** S3's notification filter: the key starts with the prefix and ends with the suffix. */
const matches = (trigger: S3Trigger, key: string) => {
  const { prefix, suffix } = ruleOf(trigger);
  return key.startsWith(prefix) && key.endsWith(suffix);
};
const created = (key: string) => ({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key } } }) as unknown as S3EventRecord;

describe('serverless.yml as the framework resolves it', () => {
  it('triggers batchScore on objects created under batch/input/ with a scored suffix, one rule per suffix', () => {
    const triggers = s3Triggers();
    expect(triggers.length).toBeGreaterThan(0);
    expect(new Set(triggers.map((t) => t.name))).toEqual(new Set(['batchScore']));
    for (const { s3 } of triggers) {
      expect(s3.event).toBe('s3:ObjectCreated:*');
      expect(s3.rules).toHaveLength(2);
      const { prefix, suffix } = ruleOf(s3);
      expect(prefix).toBe(INPUT_PREFIX);
      expect(INPUT_SUFFIXES).toContain(suffix);
    }
    expect(triggers.map((t) => ruleOf(t.s3).suffix).sort()).toEqual([...INPUT_SUFFIXES].sort());
  });

  it('never triggers on what batch scoring writes (no S3 -> Lambda recursion)', () => {
    for (const { s3 } of s3Triggers()) {
      const { prefix } = ruleOf(s3);
      // Neither prefix may contain the other, whatever the file names.
      expect(prefix).not.toBe('');
      expect(OUTPUT_PREFIX.startsWith(prefix)).toBe(false);
      expect(prefix.startsWith(OUTPUT_PREFIX)).toBe(false);
    }
    // And concretely: every object a run writes, for inputs of each suffix (outputs reuse the input name, so they end in .csv too).
    for (const suffix of INPUT_SUFFIXES) {
      const outputs = outputsFor(parseInputKey(`${INPUT_PREFIX}iris@production/2026/part-1${suffix}`));
      const written = [outputs.predictions, outputs.errors, outputs.manifest, outputs.checkpoint, outputs.part(0, 'predictions'), outputs.part(3, 'errors')];
      for (const key of written) {
        expect(key.startsWith(OUTPUT_PREFIX)).toBe(true);
        expect(s3Triggers().filter((t) => matches(t.s3, key))).toEqual([]);
      }
    }
  });

  it('is emulated exactly by npm start: same filter, same function name', () => {
    const keys = [
      'batch/input/iris/rows.csv',
      'batch/input/spam@production/mail.jsonl',
      'batch/input/digits:1/a b.ndjson',
      'batch/input/iris/notes.txt',
      'batch/input/iris/rows.CSV',
      'batch/output/iris/rows.csv.predictions.csv',
      'batch/inputs/iris/rows.csv',
      'models/iris/rows.csv',
    ];
    for (const key of keys) {
      expect([key, isBatchUpload(created(key))]).toEqual([key, s3Triggers().some((t) => matches(t.s3, key))]);
    }
    expect(isBatchUpload({ ...created('batch/input/iris/rows.csv'), eventName: 'ObjectRemoved:Delete' })).toBe(false);
    expect(BATCH_FUNCTION).toBe(`${config.service}-${config.provider.stage}-batchScore`);
  });

  it('routes exactly the route table: each path to its function, with its authorization', () => {
    // What serverless.yml deploys: "METHOD path function auth" per httpApi event.
    const deployed = Object.entries(config.functions).flatMap(([name, fn]) =>
      (fn.events ?? [])
        .filter((e) => e.httpApi !== undefined)
        .map((e) => {
          const event = e.httpApi!;
          const [method, path] = typeof event === 'string' ? event.split(' ') : [event.method, event.path];
          const auth = typeof event === 'object' && event.authorizer?.type === 'aws_iam' ? 'iam' : 'public';
          return `${method} ${path} ${name} ${auth}`;
        }),
    );
    // What the code serves (lib/api/routes/): a path API Gateway cannot route goes through the route's gateway path.
    const table = routeList().flatMap((route) => (route.gateway ? [route.gateway] : route.paths).map((path) => `${route.method} ${path} ${route.fn} ${route.auth}`));
    expect([...new Set(deployed)].sort()).toEqual([...new Set(table)].sort());
    expect(deployed).toHaveLength(new Set(deployed).size);
  });

  it('packages each function individually with only its own dist folder', () => {
    expect(config.package?.individually).toBe(true);
    const names = Object.keys(config.functions);
    expect(names.length).toBeGreaterThan(0);
    for (const [name, fn] of Object.entries(config.functions)) {
      expect(fn.handler).toBe(`dist/${name}/index.handler`);
      const patterns = fn.package?.patterns ?? [];
      expect(patterns[0]).toBe('!**');
      const included = patterns.filter((p) => !p.startsWith('!'));
      expect(included).toEqual([`dist/${name}/**`]);
      // Exclusions may only narrow the function's own folder.
      for (const excluded of patterns.slice(1).filter((p) => p.startsWith('!'))) expect(excluded.startsWith(`!dist/${name}/`)).toBe(true);
    }
  });
});
