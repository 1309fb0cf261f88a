/**
 * What the asynchronous route checks before it accepts an evaluation job, so that the job would
 * not fail on it: options of another task, and inline labels and instances, decoded and checked
 * against the model's inputs as the job will (a data set is read by the job only).
 *
 * Natural instances are decoded a chunk at a time, as many as fit this function's budget, as the
 * job worker's evaluation takes them. Decoded all at once (a 1 x 1 PNG is 602 KB of a 224 x 224 x 3
 * model's input), a request the worker runs in chunks was refused with a 413. An instance this
 * function cannot decode is checked against the worker's budget from its header, and the rows after
 * it as the others.
 */
import { InstanceTooLargeError } from '../../inputs/budget.js';
import {
  checkEncodingFits,
  checkOneInstanceFits,
  DatasetInputs,
  type EncodeBudget,
  encodeInstances,
  type Instances,
  instanceBytes,
  instancesPerChunk,
  sizedToInput,
} from '../../inputs/encode.js';
import type { LoadedModel } from '../../loader/index.js';
import { checkInputs } from '../runModel.js';
import { inlineExamples } from './examples.js';
import type { EvaluateRequest } from './request.js';
import { checkEvaluateOptions } from './service.js';

/** This function's rows per model call and budget (the chunks it checks), and the job worker's budget (what it refuses). */
export interface PrecheckLimits {
  maxBatch: number;
  budget: EncodeBudget;
  worker: EncodeBudget;
}

/**
 * A chunk of natural instances encoded and checked as the job will. When one takes more to decode
 * than this function has (a large photo), the chunk is checked again an instance at a time: such an
 * instance against the worker's budget, from its header (a 413 naming JOB_WORKER_MEMORY_SIZE when the
 * worker could not decode it either, not a job that fails with it), the others encoded. The rows after
 * it are still checked: a bad one is the 400 the synchronous route gives, not a failed job.
 */
async function checkInstances(loaded: LoadedModel, instances: Instances, place: (index: number) => string, limits: PrecheckLimits): Promise<void> {
  const { manifest } = loaded;
  const { inputs } = manifest.signature;
  try {
    checkInputs(inputs, [await encodeInstances(manifest, instances, limits.budget, 'instances', place)]);
    return;
  } catch (error) {
    if (!(error instanceof InstanceTooLargeError)) throw error;
  }
  for (const [i, instance] of instances.slice().entries()) {
    try {
      checkInputs(inputs, [await encodeInstances(manifest, [instance], limits.budget, 'instances', () => place(i))]);
    } catch (error) {
      if (!(error instanceof InstanceTooLargeError)) throw error;
      await checkEncodingFits(manifest, instance, limits.worker, place(i));
    }
  }
}

export async function precheckEvaluation(loaded: LoadedModel, request: EvaluateRequest, limits: PrecheckLimits): Promise<void> {
  checkEvaluateOptions(loaded.manifest, request);
  if (request.dataset !== undefined) return;
  const { manifest } = loaded;
  inlineExamples(manifest, request);
  const { inputs } = manifest.signature;
  const { instances } = request;
  // Chunk by chunk, every row of the first row's form, as the job reads them (DatasetInputs): the
  // 400 names the row the synchronous route names, wherever either's chunks fall.
  const dataset = new DatasetInputs(manifest);
  for (let from = 0; from < instances.length; ) {
    const first = from;
    const to = Math.min(instances.length, first + instancesPerChunk(manifest, limits.budget, limits.maxBatch));
    const place = (i: number) => `instances[${first + i}]`;
    const { input, refused } = dataset.next(instances.slice(first, to), place);
    if (input?.kind === 'tensors') {
      // Raw rows are the body's own numbers (a few MB at most), checked as they are.
      checkInputs(inputs, input.tensors);
    } else if (input) {
      // A model of any size: the chunk's one row at its own size (instancesPerChunk).
      const sized = await sizedToInput(manifest, input);
      // What the worker could not run: not even one instance fits its budget.
      checkOneInstanceFits(sized, limits.worker);
      // A row this function cannot hold but the worker can (a larger job worker): the job decodes it.
      const rowBytes = instanceBytes(sized) ?? 0;
      if (rowBytes <= limits.budget.availableFor(rowBytes)) await checkInstances(loaded, input.instances, place, limits);
    }
    if (refused) throw refused;
    from = to;
  }
}
