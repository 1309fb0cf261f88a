/**
 * The job worker's invoke event, as anyone with invoke rights may send it: one that names no job is
 * named in the log and left out (Lambda would only retry a throw into the dead-letter queue), as the
 * batch and import functions leave theirs out; a job that fails for a reason of its own still throws.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FolderStore } from '../../lib/store/folder.js';
import { captureLogs } from '../helpers/logCapture.js';
import { serving, type App } from '../helpers/serving.js';
import { irisFolderStore } from '../helpers/stores.js';

let store: FolderStore;
let app: App;
beforeAll(async () => {
  store = await irisFolderStore();
  app = serving(store.uri);
});

const logged = captureLogs();

describe('the job worker on an event that names no job', () => {
  it.each([
    [{}, 'an event without a jobId in text'],
    [{ jobId: 5 }, 'an event without a jobId in text'],
    ['a string', 'an event without a jobId in text'],
    [null, 'an event without a jobId in text'],
    [{ jobId: 'nope' }, 'invalid job id "nope": expected a UUID'],
  ])('%j: left out, named in one log line', async (event, why) => {
    await expect(app.jobWorker(event as never)).resolves.toBeUndefined();
    expect(logged()).toEqual([expect.objectContaining({ level: 'ERROR', message: 'malformed job event: left out', why })]);
  });

  it('a job id in form that names no job still throws, as a store that lost its records should be retried and seen', async () => {
    const id = randomUUID();
    await expect(app.jobWorker({ jobId: id })).rejects.toThrow(`no job ${id}`);
  });
});
