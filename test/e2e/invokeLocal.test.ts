import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { requestsInFunction } from '../helpers/functionProcess.js';

const run = promisify(execFile);

/** `npx serverless invoke local` on the built bundle, as the README shows it: an event file, or the event itself. */
async function invokeLocal(fn: string, event: string | object, options: string[] = []): Promise<any> {
  const source = typeof event === 'string' ? ['--path', event] : ['--data', JSON.stringify(event)];
  const { stdout } = await run(path.resolve('node_modules/.bin/serverless'), ['invoke', 'local', '-f', fn, ...source, ...options], {
    env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' },
  });
  return JSON.parse(stdout.slice(stdout.indexOf('{')));
}

describe('serverless invoke local', () => {
  it('prints labelled iris predictions for events/predict-iris.json', async () => {
    const result = await invokeLocal('predict', 'events/predict-iris.json');
    expect(result.statusCode).toBe(200);
    expect(result.body.predictions.map((p: { label: string }) => p.label)).toEqual(['setosa', 'virginica']);
  });

  it('answers an API Gateway HTTP API event (OIP infer) with a JSON string body', async () => {
    const result = await invokeLocal('predict', 'events/httpapi-infer-iris.json');
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body);
    expect(body.outputs.find((o: { name: string }) => o.name === 'label').data).toEqual(['virginica']);
  });

  it('serves metadata', async () => {
    const result = await invokeLocal('metadata', 'events/metadata-iris.json');
    expect(result.body).toMatchObject({ name: 'iris', task: 'classification', labels: ['setosa', 'versicolor', 'virginica'] });
  });

  it('runs an async evaluation in its own process, as README says for an unset JOB_WORKER_FUNCTION (it called the AWS Lambda API: 503)', async () => {
    const body = { dataset: '_datasets/iris-test.csv', labelColumn: 'species' };
    const result = await invokeLocal('evaluations', { path: '/v2/models/iris/evaluations?async=true', body });
    expect(result.statusCode).toBe(202);
    const record = path.resolve('models', `${result.headers.location.replace('/v2/jobs/', '_jobs/')}.json`);
    try {
      // invoke local waits for the job before it exits: the record is final.
      expect(JSON.parse(await readFile(record, 'utf8'))).toMatchObject({ kind: 'evaluate', status: 'succeeded' });
    } finally {
      await rm(record, { force: true });
    }
  });

  it("counts a function's memory as a Lambda process of its own would: not the CLI's, in whose process invoke local runs it", async () => {
    // The smallest Lambda (128 MB) refuses a gradient explanation both ways, naming what it counted.
    const image = JSON.parse((await readFile('models/_datasets/digits-test.jsonl', 'utf8')).split('\n')[0]).image;
    const body = { instances: [image], method: 'integratedGradients' };
    const local = await invokeLocal('explain', { method: 'POST', path: '/v2/models/digits/explain', body }, ['--param=memorySize=128']);
    const [own] = await requestsInFunction<{ status: number; error: string }>('explain', [{ path: '/v2/models/digits/explain', body }], {
      storeUri: 'file://models',
      megabytes: 128,
    });
    const outside = (error: string) => Number(/\(([\d.]+) MB resident outside tensors/.exec(error)?.[1]);
    expect([local.statusCode, own.status]).toEqual([413, 413]);
    // The CLI held 60 to 70 MB more, all counted as the function's (a 256 MB function refused every gradient explanation).
    expect(outside(local.body.error), local.body.error).toBeLessThan(outside(own.error) + 24);
    expect(outside(local.body.error)).toBeGreaterThan(outside(own.error) - 24);
  });
});
