/** The batch state machine's last task: joins the ranges' parts into the file's outputs and writes its manifest. */
import { joinStep, type RunInput } from '../lib/batch/shard/steps.js';
import { createServices } from '../lib/services.js';

const services = createServices();

export const handler = (event: RunInput) => joinStep(services, event);
