/**
 * A job that fails on its own request (a data set with a label the model does not have) is logged
 * as a warning, which its record tells the client; it was an ERROR line, the kind an operator's
 * alarm watches. A failure of the service (a 5xx) is still an error.
 */
import { cp } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BadRequestError, UnavailableError } from '../../lib/errors.js';
import { logJobFailure } from '../../lib/jobs/index.js';
import { captureLogs } from '../helpers/logCapture.js';
import { call, serving, waitForJob } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const logged = captureLogs();

describe('a failed job in the log', () => {
  it('on its own request: a warning naming it so, no error line', async () => {
    const store = await tempFolderStore();
    await cp('models', fileURLToPath(store.uri), { recursive: true });
    await store.put('_datasets/iris-bad-label.csv', 'sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n6.7,3.0,5.2,2.3,tulip\n');
    const app = serving(store.uri);
    const accepted = await call(app.evaluations, 'POST', '/v2/models/iris/evaluations?async=true', { dataset: '_datasets/iris-bad-label.csv', labelColumn: 'species' });
    expect(accepted.statusCode, JSON.stringify(accepted.body)).toBe(202);
    const job = await waitForJob(app, accepted.body.id);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/tulip/);
    const failures = logged().filter((l) => l.message.startsWith('evaluate job failed'));
    expect(failures.map((l) => [l.level, l.message])).toEqual([['WARN', 'evaluate job failed on its request']]);
  });

  it("of the service's own: an error", () => {
    logJobFailure('job', new UnavailableError('the model store could not be reached', 5), { jobId: 'j' });
    logJobFailure('job', new Error('boom'), { jobId: 'j' });
    logJobFailure('job', new BadRequestError('line 2: not valid JSON'), { jobId: 'j' });
    expect(logged().map((l) => [l.level, l.message])).toEqual([
      ['ERROR', 'job failed'],
      ['ERROR', 'job failed'],
      ['WARN', 'job failed on its request'],
    ]);
  });
});
