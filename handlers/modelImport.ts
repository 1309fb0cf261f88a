/**
 * Model imports, triggered by S3 ObjectCreated events under imports/{model}/ (.keras, .h5, or a
 * .zip of a TF.js model folder): each file becomes a new version of {model} in the model store,
 * with an outcome record next to it (lib/imports/run.ts).
 */
import type { S3Event } from 'aws-lambda';
import { importObject, type ImportOutcome } from '../lib/imports/run.js';
import { logger } from '../lib/observability.js';
import { createServices, uploadStore, type Services } from '../lib/services.js';
import { createdObjects } from '../lib/store/s3Events.js';

export function modelImport(services: Services) {
  return async (event: S3Event): Promise<(ImportOutcome | undefined)[]> => {
    const outcomes: (ImportOutcome | undefined)[] = [];
    const skip = (why: string) => logger.error('malformed import event: left out', { why });
    for (const { bucket, key } of createdObjects(event, skip)) {
      logger.appendKeys({ importKey: key });
      const outcome = await importObject(uploadStore(services, bucket), services.store, key, services.limits.budget);
      if (outcome) logger.info('model import', { status: outcome.status, model: outcome.model, version: outcome.version, error: outcome.error });
      outcomes.push(outcome);
    }
    return outcomes;
  };
}

export const handler = modelImport(createServices());
