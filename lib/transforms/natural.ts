/**
 * Natural inputs (feature records, raw text, images) -> the model's input tensor, using the
 * version's stored input transform. Pure: no I/O, no tensors (plain typed arrays).
 */
import { BadRequestError } from '../errors.js';
import type { TensorData } from '../ops/tensorData.js';
import type { Manifest } from '../registry/index.js';
import { encodeImages, isImageInstance } from './image.js';
import type { InputTransform } from './schema.js';
import { encodeTabular, isTabularRecord } from './tabular.js';
import { encodeText } from './text.js';

/** Whether a value is a natural instance for this transform (else it is a raw tensor row). */
export function isNaturalInstance(transform: InputTransform | undefined, value: unknown): boolean {
  switch (transform?.kind) {
    case 'tabular':
      return isTabularRecord(value);
    case 'text':
      return typeof value === 'string' || (isTabularRecord(value) && typeof value.text === 'string');
    case 'image':
      return isImageInstance(value) || (typeof value === 'string' && value.length > 64);
    default:
      return false;
  }
}

export function encodeNatural(manifest: Manifest, instances: unknown[], where = 'instances'): TensorData {
  const transform = manifest.transforms.input;
  const input = manifest.signature.inputs[0];
  if (!transform) throw new BadRequestError(`${where}: model ${manifest.name} has no input transform: send raw tensors`);
  if (instances.length === 0) throw new BadRequestError(`${where}: is empty: send at least one instance`);
  const rowShape =
    transform.kind === 'tabular'
      ? [transform.features.length]
      : transform.kind === 'text'
        ? [transform.vocabulary.length]
        : [transform.height, transform.width, transform.channels];
  const data =
    transform.kind === 'tabular'
      ? encodeTabular(transform, instances, where)
      : transform.kind === 'text'
        ? encodeText(transform, instances, where)
        : encodeImages(transform, instances, where);
  return { name: input.name, dtype: 'float32', shape: [instances.length, ...rowShape], data };
}
