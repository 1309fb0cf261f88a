import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** `npx serverless invoke local` on the built bundle, as the README shows it. */
async function invokeLocal(fn: string, eventFile: string): Promise<any> {
  const { stdout } = await run(path.resolve('node_modules/.bin/serverless'), ['invoke', 'local', '-f', fn, '--path', eventFile], {
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
});
