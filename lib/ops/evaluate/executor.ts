/** The job executor for `evaluate` jobs (async data set evaluations), used by the job worker. */
import { config } from '../../config.js';
import type { JobContext } from '../../jobs/worker.js';
import { modelLoader } from '../../loader/index.js';
import { checkEvaluateRequest, evaluateRequest } from './request.js';
import { runEvaluation } from './service.js';

export async function evaluateJob({ store, job, progress }: JobContext): Promise<unknown> {
  const request = checkEvaluateRequest(evaluateRequest.parse(job.request));
  let last = 0;
  return modelLoader().withModel({ name: job.model.name, version: job.model.version }, (loaded) =>
    runEvaluation(store, loaded, request, config().maxBatch, async (rows) => {
      // A store write per chunk would dominate small models: record progress every ~10k rows.
      if (rows - last >= 10_000) {
        last = rows;
        await progress({ rows });
      }
    }),
  );
}
