/** Which model an upload under imports/ becomes a version of: the first folder below imports/ (README, "Bring a Keras model"). */
import { expect, it } from 'vitest';
import { misplacedImport, parseImportKey } from '../../lib/imports/paths.js';

it.each([
  ['imports/mnist/model.keras', 'mnist', 'keras'],
  ['imports/mnist/2026/model.keras', 'mnist', 'keras'],
  ['imports/nsfw/tfjs/model.zip', 'nsfw', 'tfjs-zip'],
])('%s is a version of %s (%s), its outcome beside it', (key, model, format) => {
  expect(parseImportKey(key)).toEqual({ key, model, format, outcome: `${key}.outcome.json`, meta: `${key}.meta.json` });
  expect(misplacedImport(key)).toBeUndefined();
});

it.each(['imports/model.keras', 'imports//model.keras'])('%s names no model: a failed outcome says where to put it', (key) => {
  expect(parseImportKey(key)).toBeUndefined();
  expect(misplacedImport(key)).toMatch(/is not in a model's folder: put it at imports\/\{model\}\/model\.keras/);
});
