import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // s3rver runs inside the test worker and encrypts ListObjectsV2 continuation tokens with DES,
    // which OpenSSL 3 only offers through the legacy provider: without this flag every truncated
    // (paginated) listing fails with a 500 InternalError. Checked on Node 20.
    execArgv: ['--openssl-legacy-provider'],
    // Handlers log JSON lines and emit EMF metrics to stdout: keep test output readable.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
  },
});
