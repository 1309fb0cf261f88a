/** One item of the batch state machine's Distributed Map: scores one byte range of the file into its own parts. */
import type { ShardRange } from '../lib/batch/shard/plan.js';
import { rangeStep, type RunInput } from '../lib/batch/shard/steps.js';
import { createServices } from '../lib/services.js';

const services = createServices();

export const handler = (event: { range: ShardRange; run: RunInput }) => rangeStep(services, event);
