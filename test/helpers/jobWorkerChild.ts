/**
 * The real job worker handler in a process of its own, for test/integration/jobHeartbeat: it runs
 * one job as a Lambda invocation with 15 minutes ahead does, and prints its answer, unless the test
 * kills it first (a worker whose process dies mid-job).
 * Env: JOB_ID, and the worker's settings: MODEL_STORE_URI, JOB_HEARTBEAT_MS, S3_ENDPOINT, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY (nothing else of the test's environment).
 */
import { jobWorker } from '../../handlers/jobWorker.js';
import { servicesFor } from '../../lib/services.js';

const SETTINGS = ['MODEL_STORE_URI', 'JOB_HEARTBEAT_MS', 'S3_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
const services = servicesFor(Object.fromEntries(SETTINGS.map((name) => [name, process.env[name]])));
const answer = await jobWorker(services)({ jobId: process.env.JOB_ID }, { getRemainingTimeInMillis: () => 900_000 });
console.log(JSON.stringify(answer));
