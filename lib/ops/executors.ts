/** Every job kind and what runs it: shared by the job worker and by in-process dispatch. */
import type { JobExecutors } from '../jobs/worker.js';
import { evaluateJob } from './evaluate/executor.js';
import { fineTuneJob } from './fineTune/executor.js';

export const jobExecutors: JobExecutors = { evaluate: evaluateJob, 'fine-tune': fineTuneJob };
