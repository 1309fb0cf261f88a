/**
 * The batch state machine's first task: plans the byte ranges of one large uploaded file
 * (lib/batch/shard/plan.ts) and writes them where the Distributed Map reads its items.
 */
import { planStep, type RunInput } from '../lib/batch/shard/steps.js';
import { createServices } from '../lib/services.js';

const services = createServices();

export const handler = (event: RunInput) => planStep(services, event);
