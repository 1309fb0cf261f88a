import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, readConfig } from '../../lib/config.js';

describe('configuration', () => {
  it('works with no variables at all: the repo models/ folder, 30 s alias TTL, batches of 256', () => {
    const c = readConfig({});
    expect(c.modelStoreUri).toMatch(/^file:\/\/.*\/models$/);
    expect(c.aliasTtlMs).toBe(30_000);
    expect(c.maxBatch).toBe(256);
    expect(c.backend).toBeUndefined();
    expect(c.cacheMaxBytes).toBe(512 * 1024 * 1024); // a quarter of the 2048 MB default
  });

  it("reads an empty variable as unset, as serverless.yml passes one the shell does not set (TF.js's wasm folder, the cache and memory budget)", () => {
    const c = readConfig({ TFJS_WASM_DIR: '', MODEL_CACHE_MAX_BYTES: '', MEMORY_BUDGET_BYTES: '', TFJS_BACKEND: '', JOB_HEARTBEAT_MS: '' });
    expect(c).toMatchObject({ wasmDir: undefined, cacheMaxBytes: 512 * 1024 * 1024, memoryBudgetBytes: undefined, backend: undefined, jobHeartbeatMs: undefined });
  });

  it('reads every variable set empty as unset (its default), as serverless.yml says (its env fallbacks pass an empty shell variable as it is)', () => {
    // MODEL_ALIAS_TTL_SECONDS= read as 0 s (an alias re-read on every request), BATCH_MARGIN_SECONDS= as 0
    // (a batch run never handed over before its timeout), MAX_BATCH= failed the cold start.
    const empty = Object.fromEntries(CONFIG_VARIABLES.map((v) => [v, '']));
    expect(readConfig(empty)).toEqual(readConfig({}));
    expect(readConfig({ ...empty, MODEL_STORE_URI: 'file:///tmp/m' })).toEqual(readConfig({ MODEL_STORE_URI: 'file:///tmp/m' }));
  });

  it('reads every variable', () => {
    const c = readConfig({
      MODEL_STORE_URI: 's3://bucket/models',
      S3_ENDPOINT: 'http://127.0.0.1:4569',
      TFJS_BACKEND: 'cpu',
      MODEL_ALIAS_TTL_SECONDS: '5',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
      MODEL_PRELOAD: 'iris@production, digits',
      MAX_BATCH: '64',
      BATCH_MAX_ROWS: '512',
      JOB_HEARTBEAT_MS: '250',
    });
    expect(c).toMatchObject({
      modelStoreUri: 's3://bucket/models',
      s3Endpoint: 'http://127.0.0.1:4569',
      s3ForcePathStyle: true,
      backend: 'cpu',
      aliasTtlMs: 5000,
      cacheMaxBytes: 256 * 1024 * 1024,
      preload: ['iris@production', 'digits'],
      maxBatch: 64,
      batchMaxRows: 512,
      jobHeartbeatMs: 250,
    });
  });

  it.each([
    ['MODEL_STORE_URI', 'http://x', /MODEL_STORE_URI/],
    ['TFJS_BACKEND', 'gpu', /TFJS_BACKEND/],
    ['MAX_BATCH', '0', /MAX_BATCH/],
    ['BATCH_MAX_ROWS', '1.5', /BATCH_MAX_ROWS/],
    ['MODEL_ALIAS_TTL_SECONDS', 'soon', /MODEL_ALIAS_TTL_SECONDS/],
    // Three intervals would outlast the minute before Lambda's retry (lib/jobs/heartbeat.ts).
    ['JOB_HEARTBEAT_MS', '20000', /JOB_HEARTBEAT_MS/],
  ])('names the variable when %s=%s is invalid', (name, value, message) => {
    expect(() => readConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => readConfig({ [name]: value })).toThrow(message);
  });
});
