import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatOfName } from '../../lib/batch/paths.js';
import { LabelColumnError } from '../../lib/ops/evaluate/examples.js';
import { htmlReport } from '../../lib/ops/evaluate/htmlReport.js';
import { evaluateRequest } from '../../lib/ops/evaluate/request.js';
import { checkEvaluateOptions, runEvaluation } from '../../lib/ops/evaluate/service.js';
import { BadRequestError } from '../../lib/errors.js';
import type { Services } from '../../lib/services.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { parseOptions, UsageError } from '../errors.js';
import { formatMetrics } from '../format.js';
import { checkRefExists, refArgument } from '../refs.js';
import { checkInputFile, checkOutputFolder, writeOptionFile } from '../userFiles.js';

export interface EvaluateOptions {
  data: string;
  labelColumn: string;
  topK?: number;
  threshold?: number;
  save?: boolean;
  html?: string;
  json?: boolean;
}

/**
 * A local file or an s3:// object: the folder (or prefix) becomes a store, the name its key. A local
 * file that is not there is a usage error; an s3:// object that is not there is the store's to say.
 */
async function dataLocation(services: Services, data: string): Promise<{ store: ObjectStore; key: string }> {
  const scheme = /^([a-z0-9]+):\/\//.exec(data)?.[1];
  if (scheme !== undefined && scheme !== 's3' && scheme !== 'file') throw new UsageError(`--data ${data}: expected a file path, file:// or s3:// URI`);
  const uri = scheme ? data : pathToFileURL(path.resolve(data)).href;
  const cut = uri.lastIndexOf('/');
  // A plain path's file name as it is (the URI would have it percent-encoded: "my data.csv" is my%20data.csv there).
  const key = scheme ? uri.slice(cut + 1) : path.basename(path.resolve(data));
  // The service's rule, worded for the command line: the service's message offers a "format" field, which modelctl has no option for.
  if (!formatOfName(key)) throw new UsageError(`--data ${data}: expected a .csv, .jsonl or .ndjson file`);
  // file:// URIs as the store reads them (lib/store/index.ts): file:///abs/path, or file://path from the cwd.
  if (scheme !== 's3') await checkInputFile('--data', scheme !== 'file' ? data : data.startsWith('file:///') ? fileURLToPath(data) : data.slice('file://'.length));
  return { store: services.openStore(uri.slice(0, cut + 1)), key };
}

export async function evaluate(services: Services, refText: string, options: EvaluateOptions): Promise<string> {
  const { store, loader } = services;
  const ref = refArgument(refText);
  const data = await dataLocation(services, options.data);
  if (options.html) await checkOutputFolder('--html', options.html);
  const request = parseOptions(
    evaluateRequest,
    { dataset: data.key, labelColumn: options.labelColumn, topK: options.topK, threshold: options.threshold, save: options.save === true },
    { dataset: '--data' },
  );
  await checkRefExists(store, ref);
  const evaluation = await loader.withModel(ref, (loaded) => {
    // An option of another task is a mistake in the command line: named by its flag, exit 2.
    try {
      checkEvaluateOptions(loaded.manifest, request, { topK: '--top-k', threshold: '--threshold' });
    } catch (error) {
      throw error instanceof BadRequestError ? new UsageError(error.message) : error;
    }
    return runEvaluation(store, loaded, request, services.limits, undefined, data.store).catch((error: unknown) => {
      // The label column (given, or the default "label") is not in the file: a mistake in the command line.
      throw error instanceof LabelColumnError ? new UsageError(`--label-column: ${error.message}`) : error;
    });
  });
  loader.clear();
  if (options.html) await writeOptionFile('--html', options.html, htmlReport(evaluation));
  if (options.json) return JSON.stringify(evaluation, null, 2);
  const lines = [
    `${evaluation.model.name}:${evaluation.model.version} on ${options.data}: ${evaluation.count} rows in ${evaluation.durationMs} ms`,
    formatMetrics(evaluation.metrics),
  ];
  if (options.save) lines.push(`saved as evaluation ${evaluation.id}`);
  if (options.html) lines.push(`report written to ${options.html}`);
  return lines.join('\n');
}
