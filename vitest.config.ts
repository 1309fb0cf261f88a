import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // At least two test files at a time. vitest's default is one fewer than the cores, one file at a
    // time on a 2-core machine, though most files spend their time waiting on the processes they
    // start (serverless offline, modelctl, bundles in a function's process) or on s3rver: on 2 cores
    // the suite took 549 s with two, against about 720 s with one (1956 tests passed in both).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // s3rver runs inside the test worker and encrypts ListObjectsV2 continuation tokens with DES,
    // which OpenSSL 3 only offers through the legacy provider: without this flag every truncated
    // (paginated) listing fails with a 500 InternalError. Checked on Node 20.
    execArgv: ['--openssl-legacy-provider'],
    // Handlers log JSON lines and emit EMF metrics to stdout: keep test output readable.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
  },
});
