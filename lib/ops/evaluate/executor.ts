/** The job executor for `evaluate` jobs (async data set evaluations), used by the job worker. */
import type { JobContext } from '../../jobs/worker.js';
import { evaluateRequest } from './request.js';
import { runEvaluation } from './service.js';

export async function evaluateJob({ store, loader, limits, job, progress, signal }: JobContext): Promise<unknown> {
  const request = evaluateRequest.parse(job.request);
  let last = 0;
  const onProgress = async (rows: number) => {
    // A store write per chunk would dominate small models: record progress every ~10k rows.
    if (rows - last >= 10_000) {
      last = rows;
      await progress({ rows });
    }
  };
  // Its signal aborted (taken over, or at its deadline): it stops before its next chunk and saves
  // nothing. Named by the job: one saved evaluation per job, whichever attempt saves it.
  return loader.withModel({ name: job.model.name, version: job.model.version }, (loaded) => runEvaluation(store, loaded, request, limits, { onProgress, signal, jobId: job.id }));
}
