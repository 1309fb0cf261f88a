/**
 * A fine-tune's promotion whose alias write landed but whose answer was lost (the connection
 * dropped, a 503 after the fact): the result says the alias moved, as it did, rather than
 * "could not be moved ... PUT ... moves it"; a write that did not land still says so.
 */
import { expect, it } from 'vitest';
import { applyPromotion } from '../../lib/ops/fineTune/promote.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { keys, readAlias, setAlias } from '../../lib/registry/index.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeLayersModel } from '../helpers/tinyModels.js';

/** A store whose writes of the alias fail after (`landed`) or instead of landing, with S3's answer to a shed request. */
function failingAliasWrites(inner: ObjectStore, landed: boolean): ObjectStore {
  const store = Object.create(inner) as ObjectStore;
  store.put = async (key, body, options) => {
    const alias = key === keys.alias('m', 'production');
    if (!alias || landed) await inner.put(key, body, options);
    if (alias) throw Object.assign(new Error('SlowDown'), { $metadata: { httpStatusCode: 503 } });
  };
  return store;
}

it.each([
  [true, { moved: true, reason: 'asked' }],
  [
    false,
    {
      moved: false,
      reason: expect.stringMatching(/^asked, but the alias could not be moved; version 2 is written: PUT \/v2\/models\/m\/aliases\/production \{"version": 2\} moves it$/),
    },
  ],
])('an alias write that landed: %s', async (landed, expected) => {
  const inner = await tempFolderStore();
  const folder = await writeLayersModel();
  for (let i = 0; i < 2; i++) await pushModelFolder(inner, folder, 'm', { labels: ['a', 'b', 'c'] });
  await setAlias(inner, 'm', 'production', 1);
  const promoted = await applyPromotion(failingAliasWrites(inner, landed), 'm', 2, { alias: 'production', move: true, reason: 'asked' });
  expect(promoted).toMatchObject({ alias: 'production', ...expected });
  expect((await readAlias(inner, 'm', 'production'))?.version).toBe(landed ? 2 : 1);
});
