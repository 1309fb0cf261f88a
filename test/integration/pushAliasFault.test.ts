/**
 * modelctl push --alias on a store that writes the version and then fails the alias move: the
 * version stays said, with the command that finishes the job (it printed only "AWS answered
 * SlowDown", and a user pushing again made a duplicate version).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { push } from '../../cli/commands/push.js';
import { promote } from '../../cli/commands/aliases.js';
import { failure, PartlyDoneError } from '../../cli/errors.js';
import { listVersions, readAlias } from '../../lib/registry/index.js';
import { openStore } from '../../lib/store/index.js';
import { startProxiedS3, type ProxiedS3 } from '../helpers/proxiedS3.js';
import { writeLayersModel } from '../helpers/tinyModels.js';

let proxied: ProxiedS3;
beforeAll(async () => {
  proxied = await startProxiedS3([]);
});
afterAll(() => proxied?.stop());

it('a push whose alias write fails names the stored version and the promote that moves the alias', async () => {
  const store = openStore(proxied.s3.uri, {
    ...proxied.s3.s3Options,
    endpoint: proxied.proxy.endpoint,
    retry: { maxAttempts: 1, connectionTimeoutMs: 1000, socketTimeoutMs: 5000 },
  });
  proxied.proxy.fail(({ method, path }) => method === 'PUT' && path.includes('/aliases/'));
  const error = await push(store, await writeLayersModel(), { name: 'pa', alias: 'production', labels: 'a,b,c' }).catch((e: unknown) => e);
  proxied.proxy.fail(undefined);
  expect(error).toBeInstanceOf(PartlyDoneError);
  const { message, exitCode } = failure(error, false);
  expect(exitCode).toBe(1);
  const [done, failed, next] = (message ?? '').split('\n');
  expect(done).toMatch(/^pushed pa:1 \(layers, classification\) to s3:\/\//);
  // The write refused, named with its object.
  expect(failed).toMatch(/^alias production was not moved: AWS answered SlowDown: Please reduce your request rate\. \(PutObject s3:\/\/\S+\/pa\/aliases\/production\.json\)$/);
  expect(next).toBe(
    'the version is stored: point the alias at it with modelctl promote pa 1 --alias production (pushing again makes another version; pushed with --skip-unchanged, it finds this one)',
  );
  expect(await listVersions(proxied.store, 'pa')).toEqual([1]);
  expect(await readAlias(proxied.store, 'pa', 'production')).toBeUndefined();
  await promote(store, 'pa', '1', 'production');
  expect((await readAlias(proxied.store, 'pa', 'production'))?.version).toBe(1);
});

it('a push whose alias write landed but whose answer was lost says the alias moved, as it did', async () => {
  const store = openStore(proxied.s3.uri, {
    ...proxied.s3.s3Options,
    endpoint: proxied.proxy.endpoint,
    retry: { maxAttempts: 1, connectionTimeoutMs: 1000, socketTimeoutMs: 5000 },
  });
  proxied.proxy.fail(({ method, path }) => method === 'PUT' && path.includes('/aliases/'), 'lost');
  const printed = await push(store, await writeLayersModel(), { name: 'pl', alias: 'production', labels: 'a,b,c' }).finally(() => proxied.proxy.fail(undefined));
  expect(printed.split('\n').at(-1)).toBe('alias production -> 1');
  expect((await readAlias(proxied.store, 'pl', 'production'))?.version).toBe(1);
});
