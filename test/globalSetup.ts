/**
 * Builds the handler bundles once before the suite: the end-to-end tests run the bundles under
 * `serverless offline` and `invoke local`, so `npm test` works on a fresh clone without a build step.
 */
import { buildHandlers } from '../scripts/build.js';

export default async function setup(): Promise<void> {
  await buildHandlers({ enforceBudget: false });
}
