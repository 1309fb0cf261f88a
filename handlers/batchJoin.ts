/**
 * The batch state machine's last task: joins the ranges' parts into the file's outputs and writes
 * its manifest; or, called from the state machine's Catch with the failure, writes the failed
 * manifest (the same role and reach: the file's outputs).
 */
import { joinTask, type RunInput, type StepFailure } from '../lib/batch/shard/steps.js';
import { createServices } from '../lib/services.js';

const services = createServices();

export const handler = (event: RunInput & { failure?: StepFailure }) => joinTask(services, event);
