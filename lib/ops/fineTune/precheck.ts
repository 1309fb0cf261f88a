/**
 * What can be checked before a fine-tune job is accepted, so a bad request is a 400 now rather
 * than a failed job later: the base is a layers model, layer names exist, inline labels fit.
 */
import { BadRequestError } from '../../errors.js';
import type { LoadedModel } from '../../loader/index.js';
import { isLayersModel } from '../../runtime/tfModel.js';
import { truthOf } from '../evaluate/examples.js';
import type { FineTuneRequest } from './request.js';

export function precheckFineTune(loaded: LoadedModel, request: FineTuneRequest): void {
  if (!isLayersModel(loaded.model)) {
    throw new BadRequestError(`${loaded.name}:${loaded.version} is a graph model: graph models cannot be trained, only layers models`);
  }
  const layers = loaded.model.layers.map((l) => l.name);
  const chosen = request.config.trainableLayers;
  if (Array.isArray(chosen)) {
    const unknown = chosen.filter((n) => !layers.includes(n));
    if (unknown.length) throw new BadRequestError(`unknown layer(s) ${unknown.join(', ')} in trainableLayers; the model has ${layers.join(', ')}`);
  }
  const problems: string[] = [];
  const checkLabels = (labels: unknown[] | undefined, where: string) =>
    labels?.forEach((label, i) => {
      try {
        truthOf(loaded.manifest, label, `${where}[${i}]`);
      } catch (error) {
        problems.push((error as Error).message);
      }
    });
  checkLabels(request.labels, 'labels');
  if (!('split' in request.validation)) checkLabels(request.validation.labels, 'validation.labels');
  if (problems.length) throw new BadRequestError(problems.slice(0, 10).join('; '));
}
