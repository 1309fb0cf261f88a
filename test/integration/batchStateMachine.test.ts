/**
 * The batch state machine as serverless.yml defines it, resolved by the framework
 * (`serverless print`): it passes asl-validator; and its task handlers, run in the order the
 * definition gives (Plan, the Choice, each item of the Distributed Map as its ItemReader and
 * ItemSelector give them, Join), against a real S3 API (s3rver), write the outputs the run through
 * one function writes, byte for byte. The trigger hands a file over BATCH_SHARD_BYTES to Step
 * Functions (StartExecution, named after bucket, key and ETag, so a redelivered event starts
 * nothing new) and scores smaller ones itself. Step Functions itself cannot run here: a local HTTP
 * endpoint stands in for its StartExecution API.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchScore } from '../../handlers/batchScore.js';
import { scoreObject } from '../../lib/batch/run.js';
import { outputsFor, parseInputKey, shardOutputsFor } from '../../lib/batch/paths.js';
import { executionName } from '../../lib/batch/shard/startRun.js';
import { joinTask, planStep, rangeStep } from '../../lib/batch/shard/steps.js';
import { oneInvocation } from '../helpers/batchOptions.js';
import { backendGeneration } from '../../lib/runtime/recovery.js';
import { servicesFor, type Services } from '../../lib/services.js';
import { listAll, type ObjectStore } from '../../lib/store/index.js';
import type { ShardRange } from '../../lib/batch/shard/plan.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';

const aslValidator = createRequire(import.meta.url)('asl-validator') as (definition: unknown, options: object) => { isValid: boolean; errorsText: (sep: string) => string };

type State = Record<string, any>;
/** The definition as printed: its task resources name their partition #{AWS::Partition} (serverless.yml says why). */
let printedDefinition: string;
/**
 * The definition Step Functions gets in a partition: serverless-step-functions turns
 * #{AWS::Partition} into ${AWS::Partition} and the definition into a Fn::Sub, which CloudFormation fills in.
 */
const inPartition = (partition: string) => JSON.parse(printedDefinition.replaceAll('#{AWS::Partition}', partition));
let definition: { StartAt: string; States: Record<string, State> };
let s3: S3rverHandle;
let services: Services;
const STEPS: Record<string, (services: Services, event: any) => Promise<unknown>> = { batchPlan: planStep, batchRange: rangeStep, batchJoin: joinTask };

/**
 * What a Catch puts at its ResultPath: a Lambda task's error as Step Functions reports it (the
 * function's errorType, and its JSON cause), or a Distributed Map's own threshold error.
 */
function caught(state: State, error: Error): State {
  if (state.Type === 'Map') return { Error: 'States.ExceedToleratedFailureThreshold', Cause: 'The specified tolerated failure threshold was exceeded' };
  return { Error: error.name, Cause: JSON.stringify({ errorType: error.name, errorMessage: error.message }) };
}

/** The JSONPath the definition uses: $, $.field, $$.Map.Item.Value (anything else fails the test). */
function read(path: string, input: State, context: State): unknown {
  if (path === '$') return input;
  if (path === '$$.Map.Item.Value') return context.item;
  const field = /^\$\.(\w+)$/.exec(path);
  if (!field) throw new Error(`unsupported path ${path}`);
  return input[field[1]];
}

/** An ASL parameters template: keys ending in .$ are paths. */
function select(template: unknown, input: State, context: State = {}): unknown {
  if (template === '$') return input;
  if (typeof template !== 'object' || template === null) return template;
  return Object.fromEntries(
    Object.entries(template).map(([key, value]) => (key.endsWith('.$') ? [key.slice(0, -2), read(value as string, input, context)] : [key, select(value, input, context)])),
  );
}

async function task(state: State, input: State, context: State = {}): Promise<unknown> {
  expect(state.Resource).toBe('arn:aws:states:::lambda:invoke');
  const name = Object.keys(STEPS).find((fn) => String(state.Parameters.FunctionName).endsWith(`-${fn}`));
  if (!name) throw new Error(`no step for ${state.Parameters.FunctionName}`);
  const payload = state.Parameters['Payload.$'] ? read(state.Parameters['Payload.$'], input, context) : select(state.Parameters.Payload, input, context);
  const result = await STEPS[name](services, payload);
  expect(state.OutputPath).toBe('$.Payload');
  return result;
}

/** Runs the definition: each Task's handler, the Choice, the Map's items, a Catch, until Succeed or Fail. */
async function execute(store: ObjectStore, input: State): Promise<string[]> {
  const visited: string[] = [];
  let name: string | undefined = definition.StartAt;
  let data: State = input;
  while (name) {
    visited.push(name);
    const state: State = definition.States[name];
    if (state.Type === 'Succeed' || state.Type === 'Fail') break;
    try {
      if (state.Type === 'Task') {
        data = (await task(state, data)) as State;
        name = state.Next;
      } else if (state.Type === 'Choice') {
        const choice = state.Choices.find((c: State) => read(c.Variable, data, {}) === c.BooleanEquals);
        name = choice ? choice.Next : state.Default;
      } else if (state.Type === 'Map') {
        const reader = select(state.ItemReader.Parameters, data) as { Bucket: string; Key: string };
        expect(reader.Bucket).toBe(s3.bucket);
        const items = JSON.parse(new TextDecoder().decode(await store.get(reader.Key))) as unknown[];
        const processor = state.ItemProcessor;
        const results = [];
        for (const item of items) results.push(await task(processor.States[processor.StartAt], select(state.ItemSelector, data, { item }) as State));
        data = { ...data, [state.ResultPath.slice(2)]: results };
        name = state.Next;
      } else throw new Error(`state type ${state.Type} not run here`);
    } catch (error) {
      const handler = (state.Catch as State[] | undefined)?.find((c) => c.ErrorEquals.includes('States.ALL') || c.ErrorEquals.includes((error as Error).name));
      if (!handler) throw error;
      data = { ...data, [handler.ResultPath.slice(2)]: caught(state, error as Error) };
      name = handler.Next;
    }
  }
  return visited;
}

let csv: string;

beforeAll(async () => {
  const { stdout } = await promisify(execFile)(path.resolve('node_modules/.bin/serverless'), ['print', '--format', 'json'], { maxBuffer: 16 * 1024 * 1024 });
  printedDefinition = JSON.stringify(JSON.parse(stdout).stepFunctions.stateMachines.batch.definition);
  definition = inPartition('aws');
  s3 = await startS3rver();
  services = servicesFor({ MODEL_STORE_URI: 'file://models', S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', BATCH_RANGE_BYTES: '8000' });
  const rows = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
  const lines = [`${rows[0]},note`];
  for (let i = 0; i < 1200; i += 1)
    lines.push(`${i % 41 === 0 ? `x,${rows[1 + (i % 30)].split(',').slice(1).join(',')}` : rows[1 + (i % 30)]},${i % 9 === 0 ? `"a, b\nc ${i}"` : i}`);
  csv = `${lines.join('\n')}\n`;
}, 120_000);
afterAll(async () => s3?.stop());

describe('the batch state machine', () => {
  it('passes asl-validator as the framework resolves it, in every partition (GovCloud aws-us-gov, China aws-cn)', () => {
    // The Fn::Sub the plugin makes would read any other ${...} or #{...} as a variable: there is none.
    expect(printedDefinition).not.toContain('${');
    expect(new Set(printedDefinition.match(/#\{[^}]*\}/g))).toEqual(new Set(['#{AWS::Partition}']));
    for (const partition of ['aws', 'aws-us-gov', 'aws-cn']) {
      const { isValid, errorsText } = aslValidator(inPartition(partition), { checkPaths: true, checkArn: true });
      expect(isValid, `${partition}: ${errorsText('\n')}`).toBe(true);
    }
    // And the validator is not a rubber stamp: a Distributed Map without its processor fails.
    const broken = structuredClone(definition);
    delete broken.States.ScoreRanges.ItemProcessor;
    expect(aslValidator(broken, { checkPaths: true, checkArn: true }).isValid).toBe(false);
  });

  it('catches only failures no retry can mend: a caught failure ends in the Fail state, which a redrive cannot get past', () => {
    expect(definition.States.ScoreRanges.Catch).toBeUndefined();
    expect(definition.States.Join.Catch).toBeUndefined();
    const caughtNames = (definition.States.Plan.Catch as State[]).flatMap((c) => c.ErrorEquals);
    expect(caughtNames).not.toContain('States.ALL');
    expect(caughtNames).toEqual(expect.arrayContaining(['BadRequestError', 'NotFoundError', 'IntegrityError']));
  });

  it('retries, on every task, a store that failed in a way that may pass, and not a refused one', async () => {
    const tasks = [...Object.values(definition.States), ...Object.values(definition.States.ScoreRanges.ItemProcessor.States as Record<string, State>)].filter(
      (state) => state.Type === 'Task',
    );
    expect(tasks.length).toBe(4);
    for (const state of tasks) {
      const names = (state.Retry as State[]).flatMap((r) => r.ErrorEquals);
      expect(names).toContain('TransientError');
      expect(names).not.toContain('States.ALL');
    }
    // What the tasks throw by that name: a store that does not answer (nothing listens on port 9) ...
    const silent = servicesFor({
      MODEL_STORE_URI: 'file://models',
      S3_ENDPOINT: 'http://127.0.0.1:9',
      S3_MAX_ATTEMPTS: '1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
    const run = { bucket: s3.bucket, key: 'batch/input/iris/any.csv', etag: '"0"' };
    await expect(planStep(silent, run)).rejects.toMatchObject({ name: 'TransientError' });
    await expect(rangeStep(silent, { range: { index: 0, start: 0, end: 10, line: 0 }, run })).rejects.toMatchObject({ name: 'TransientError' });
    await expect(joinTask(silent, run)).rejects.toMatchObject({ name: 'TransientError' });
    // ... but not a bucket that is not there: a retry gets the same answer until the operator acts.
    await expect(planStep(services, { ...run, bucket: 'no-such-bucket' })).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('run task by task against s3rver, writes what one function writes, byte for byte; a second run finds it done', async () => {
    const store = s3.store;
    await store.put('batch/input/iris/one.csv', csv);
    await store.put('batch/input/iris/many.csv', csv);
    const options = oneInvocation(64);
    expect((await scoreObject(store, services.loader, 'batch/input/iris/one.csv', options)).status).toBe('succeeded');
    const etag = (await store.head('batch/input/iris/many.csv'))?.etag ?? '';
    const visited = await execute(store, { bucket: s3.bucket, key: 'batch/input/iris/many.csv', etag });
    expect(visited).toEqual(['Plan', 'AlreadyDone', 'ScoreRanges', 'Join', 'Done']);
    for (const output of ['predictions.csv', 'errors.jsonl']) {
      const one = Buffer.from(await store.get(`batch/output/iris/one.csv.${output}`));
      const many = Buffer.from(await store.get(`batch/output/iris/many.csv.${output}`));
      expect(many.equals(one), output).toBe(true);
    }
    const manifest = JSON.parse(new TextDecoder().decode(await store.get('batch/output/iris/many.csv.manifest.json')));
    expect(manifest.invocations).toBeGreaterThan(3);
    // The same object again (a redelivered event, a second execution): nothing to do.
    expect(await execute(store, { bucket: s3.bucket, key: 'batch/input/iris/many.csv', etag })).toEqual(['Plan', 'AlreadyDone', 'Done']);
  }, 120_000);

  it('a file that fails in a later range: the range writes the failed manifest one function writes, and the execution fails uncaught (so it stays redrivable)', async () => {
    const store = s3.store;
    const body = `${csv}5.1,3.5\n`; // a record cut short at the end: malformed CSV, the whole file fails
    await store.put('batch/input/iris/cut-one.csv', body);
    await store.put('batch/input/iris/cut-many.csv', body);
    const options = oneInvocation(64);
    const reference = await scoreObject(store, services.loader, 'batch/input/iris/cut-one.csv', options);
    expect(reference.manifest?.error).toMatch(/malformed/);
    const etag = (await store.head('batch/input/iris/cut-many.csv'))?.etag ?? '';
    await expect(execute(store, { bucket: s3.bucket, key: 'batch/input/iris/cut-many.csv', etag })).rejects.toThrow(reference.manifest?.error as string);
    const manifest = JSON.parse(new TextDecoder().decode(await store.get('batch/output/iris/cut-many.csv.manifest.json')));
    expect(manifest).toMatchObject({ status: 'failed', error: reference.manifest?.error, source: { etag } });
    expect(manifest.rows.read).toBeGreaterThan(0); // the ranges scored before the failure
    expect(await store.head('batch/output/iris/cut-many.csv.predictions.csv')).toBeUndefined();
    const parts = shardOutputsFor(outputsFor(parseInputKey('batch/input/iris/cut-many.csv')), etag);
    expect(await store.head(parts.plan)).toBeDefined();
    expect(await store.head(parts.rangeResult(0))).toBeDefined();
  }, 120_000);

  it('a run whose plan fails (an unknown model) ends with a failed manifest naming it, as one function does', async () => {
    const store = s3.store;
    await store.put('batch/input/nope/rows.csv', csv);
    const etag = (await store.head('batch/input/nope/rows.csv'))?.etag ?? '';
    expect(await execute(store, { bucket: s3.bucket, key: 'batch/input/nope/rows.csv', etag })).toEqual(['Plan', 'RecordFailure', 'Failed']);
    const manifest = JSON.parse(new TextDecoder().decode(await store.get('batch/output/nope/rows.csv.manifest.json')));
    expect(manifest).toMatchObject({ status: 'failed', error: expect.stringMatching(/no model named nope/) });
  }, 60_000);

  it('a file replaced after the trigger or after planning fails its task, naming the change, and its range writes nothing', async () => {
    const store = s3.store;
    const key = 'batch/input/iris/replaced.csv';
    await store.put(key, csv);
    const run = { bucket: s3.bucket, key, etag: (await store.head(key))?.etag ?? '' };
    const plan = (await planStep(services, run)) as { ranges: number };
    const parts = shardOutputsFor(outputsFor(parseInputKey(key)), run.etag);
    const ranges = JSON.parse(new TextDecoder().decode(await store.get(parts.ranges)));
    expect(plan.ranges).toBeGreaterThan(1);
    // The same name, new bytes: its own execution plans it; this one's ranges must not score them.
    await store.put(key, csv.replace(/\n/, '\n5.0,3.0,1.0,0.1,setosa,inserted\n'));
    await expect(rangeStep(services, { range: ranges[1], run })).rejects.toThrow(/replaced\.csv .*has changed/);
    expect(await store.head(parts.rangeResult(1))).toBeUndefined();
    expect(await store.head(parts.part(1, 'predictions'))).toBeUndefined();
    // A plan step that runs after the replacement refuses to plan the new bytes for the old ETag.
    await store.delete(parts.plan);
    await expect(planStep(services, run)).rejects.toThrow(/replaced\.csv has changed since this run was started/);
  }, 60_000);
  it('a backend fault while a range is scored resets TF.js and is retried as transient; the retry scores it, the outputs as one function writes them', async () => {
    const store = s3.store;
    const key = 'batch/input/iris/trapped.csv';
    await store.put(key, csv);
    const run = { bucket: s3.bucket, key, etag: (await store.head(key))?.etag ?? '' };
    await planStep(services, run);
    const parts = shardOutputsFor(outputsFor(parseInputKey(key)), run.etag);
    const ranges = JSON.parse(new TextDecoder().decode(await store.get(parts.ranges))) as ShardRange[];
    // The trap a heap exhaustion raises inside the scoring (test/integration/backendFault.test.ts drives a real one).
    const loader = services.loader;
    const trapping = {
      ...services,
      loader: Object.assign(Object.create(loader) as typeof loader, {
        withModel: (ref: never, _work: unknown, time?: never) =>
          loader.withModel(
            ref,
            async () => {
              throw new WebAssembly.RuntimeError('memory access out of bounds');
            },
            time,
          ),
      }),
    } as Services;
    const generation = backendGeneration();
    await expect(rangeStep(trapping, { range: ranges[1], run })).rejects.toMatchObject({ name: 'TransientError' });
    expect(backendGeneration()).toBe(generation + 1);
    expect(await store.head(parts.rangeResult(1))).toBeUndefined();
    for (const range of ranges) await rangeStep(services, { range, run });
    await joinTask(services, run);
    const sharded = new TextDecoder().decode(await store.get('batch/output/iris/trapped.csv.predictions.csv'));
    await store.put('batch/input/iris/trapped-whole.csv', csv);
    await scoreObject(store, services.loader, 'batch/input/iris/trapped-whole.csv', oneInvocation(64));
    expect(sharded).toBe(new TextDecoder().decode(await store.get('batch/output/iris/trapped-whole.csv.predictions.csv')));
  }, 120_000);

  it("a file replaced after every range was scored: its join publishes nothing and removes its parts, and the new upload's outputs stay", async () => {
    const store = s3.store;
    const key = 'batch/input/iris/replaced-late.csv';
    await store.put(key, csv);
    const run = { bucket: s3.bucket, key, etag: (await store.head(key))?.etag ?? '' };
    await planStep(services, run);
    const parts = shardOutputsFor(outputsFor(parseInputKey(key)), run.etag);
    const ranges = JSON.parse(new TextDecoder().decode(await store.get(parts.ranges))) as ShardRange[];
    for (const range of ranges) await rangeStep(services, { range, run });
    // The new upload is scored by its own execution before this one's join runs.
    await store.put(key, csv.replace(/\n/, '\n5.0,3.0,1.0,0.1,setosa,inserted\n'));
    const newer = { ...run, etag: (await store.head(key))?.etag ?? '' };
    expect(newer.etag).not.toBe(run.etag);
    expect(await execute(store, newer)).toContain('Join');
    const published = new TextDecoder().decode(await store.get('batch/output/iris/replaced-late.csv.manifest.json'));
    const predictions = new TextDecoder().decode(await store.get('batch/output/iris/replaced-late.csv.predictions.csv'));
    expect(JSON.parse(published)).toMatchObject({ status: 'succeeded', source: { etag: newer.etag } });
    expect(predictions).toContain(',inserted,');

    expect(await joinTask(services, run)).toEqual({ status: 'superseded' });
    expect(new TextDecoder().decode(await store.get('batch/output/iris/replaced-late.csv.manifest.json'))).toBe(published);
    expect(new TextDecoder().decode(await store.get('batch/output/iris/replaced-late.csv.predictions.csv'))).toBe(predictions);
    const left: string[] = [];
    for await (const object of listAll(store, parts.partsPrefix)) left.push(object.key);
    expect(left).toEqual([]);
  }, 120_000);
});

describe('the trigger', () => {
  let server: Server;
  const calls: { target: string; body: any }[] = [];
  let endpoint: string;
  beforeAll(async () => {
    // StartExecution (awsJson1_0): the first call per name starts, a repeat is ExecutionAlreadyExists.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const parsed = JSON.parse(body);
        const repeat = calls.some((c) => c.body.name === parsed.name);
        calls.push({ target: String(req.headers['x-amz-target']), body: parsed });
        res.setHeader('content-type', 'application/x-amz-json-1.0');
        if (repeat) {
          res.statusCode = 400;
          res.end(JSON.stringify({ __type: 'ExecutionAlreadyExists', message: 'exists' }));
        } else res.end(JSON.stringify({ executionArn: `${parsed.stateMachineArn}:${parsed.name}`, startDate: Date.now() / 1000 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => server?.close());

  it('hands a file over BATCH_SHARD_BYTES to the state machine once, and scores a small one itself', async () => {
    const env = {
      MODEL_STORE_URI: 'file://models',
      S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      BATCH_SHARD_BYTES: '10000',
      BATCH_STATE_MACHINE_NAME: 'tfjs-serving-dev-batch',
      STEP_FUNCTIONS_ENDPOINT: endpoint,
    };
    const score = batchScore(servicesFor(env));
    await s3.store.put('batch/input/iris/big.csv', csv);
    await s3.store.put('batch/input/iris/small.csv', csv.split('\n').slice(0, 20).join('\n'));
    const event = (key: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: s3.bucket }, object: { key } } }] });
    const context = { invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:tfjs-serving-dev-batchScore', getRemainingTimeInMillis: () => 900_000 };
    await score(event('batch/input/iris/big.csv') as never, context);
    await score(event('batch/input/iris/big.csv') as never, context); // redelivered
    const etag = (await s3.store.head('batch/input/iris/big.csv'))?.etag ?? '';
    expect(calls.map((c) => c.target)).toEqual(['AWSStepFunctions.StartExecution', 'AWSStepFunctions.StartExecution']);
    expect(calls[0].body).toEqual({
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:tfjs-serving-dev-batch',
      name: executionName({ bucket: s3.bucket, key: 'batch/input/iris/big.csv', etag }),
      input: JSON.stringify({ bucket: s3.bucket, key: 'batch/input/iris/big.csv', etag }),
    });
    expect(await s3.store.head('batch/output/iris/big.csv.manifest.json')).toBeUndefined();
    await score(event('batch/input/iris/small.csv') as never, context);
    expect(calls).toHaveLength(2);
    expect(await s3.store.head('batch/output/iris/small.csv.manifest.json')).toBeDefined();
    // A large file whose key names no model is refused here with a failed manifest (the plan could not have written one).
    await s3.store.put('batch/input/IRIS/big.csv', csv);
    await score(event('batch/input/IRIS/big.csv') as never, context);
    expect(calls).toHaveLength(2);
    expect(JSON.parse(new TextDecoder().decode(await s3.store.get('batch/output/IRIS/big.csv.manifest.json')))).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/IRIS/),
    });
  });
});
