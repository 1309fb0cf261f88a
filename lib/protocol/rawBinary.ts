/**
 * Triton's raw binary request (its binary tensor data extension): `Inference-Header-Content-Length: 0`
 * and a body that is one input's bytes, no JSON header, for a model of one input whose shape the
 * byte count settles: one row (Triton reads a batching model's raw request as batch 1), at most one
 * other free dimension; every output is answered in binary, as Triton answers it.
 *
 * Ours besides, by the body's Content-Type: `image/*` is one encoded image for an image model and
 * `text/plain` one text for a text model (curl sends a file as application/x-www-form-urlencoded
 * unless told); a PNG or JPEG file of any type sent to an image model is one too, told by its
 * signature. Any other body
 * is the input's tensor as Triton reads it. The byte count never decides: an 800-byte text read as a
 * model's 200 int32 token ids would answer without a word of warning.
 */
import { imageFileType } from '../bytes.js';
import { BadRequestError } from '../errors.js';
import { inputKindOf } from '../inputs/encode.js';
import type { Manifest } from '../registry/manifest.js';
import { ELEMENT_BYTES, readRawInput } from './binaryData.js';
import { declaredDatatypeOf, type OipDatatype } from './datatypes.js';
import type { OipInferRequest } from './oip.js';

const rawBodies = new WeakMap<object, Uint8Array>();

/**
 * What a raw body is before the model is known (the route's schema reads it first): a request of
 * one input, told from any other by rawBodyOf, whose signature makes it the request it stands for.
 */
export function rawBodyPlaceholder(body: Uint8Array): unknown {
  const data = new Uint8Array(0);
  rawBodies.set(data, body);
  return { inputs: [{ name: 'raw binary body', shape: [body.length], datatype: 'UINT8', data }] };
}

/** The body of a raw binary request, or undefined for any other request. */
export function rawBodyOf(request: OipInferRequest): Uint8Array | undefined {
  const data = request.inputs[0]?.data;
  return typeof data === 'object' && data !== null ? rawBodies.get(data) : undefined;
}

const SEND_HEADER = 'send a JSON header first (its length in Inference-Header-Content-Length), each input with parameters.binary_data_size';

/** The request a raw body stands for, given the model it is sent to; a 400 naming the bytes it takes when it cannot be one. */
export function rawBinaryRequest(manifest: Manifest, body: Uint8Array, contentType: string | undefined): OipInferRequest {
  const { inputs } = manifest.signature;
  if (inputs.length !== 1) {
    throw new BadRequestError(
      `a raw binary request (Inference-Header-Content-Length: 0) is the bytes of a model's one input; model ${manifest.name} takes ${inputs.length} (${inputs.map((i) => i.name).join(', ')}): ${SEND_HEADER}`,
    );
  }
  const [input] = inputs;
  const where = `the raw binary body (input ${input.name})`;
  const media = contentType?.split(';')[0].trim().toLowerCase();
  const file = media?.startsWith('image/') ? { type: 'base64', what: 'images' } : media === 'text/plain' ? { type: 'str', what: 'texts' } : undefined;
  const takes = (type: string) => inputKindOf(manifest)?.kind.contentTypes.includes(type) === true;
  // A PNG or JPEG sent as application/octet-stream (as serverless offline needs a binary body sent):
  // its signature is no row of float32 or int32 pixels (the first value would be over 50,000). A
  // model declaring uint8 pixels (handtrack) may get a row that starts as one does; a row is then
  // told by its exact size, which a file has only by chance.
  const oneRow = input.shape?.slice(1).every((d) => d >= 0) && body.length === fixedRowBytes(input);
  if (!file && takes('base64') && imageFileType(body) !== undefined && !(input.declaredDtype && oneRow)) {
    return oneInput(input.name, [1], 'BYTES', readRawInput('BYTES', body, 1, where), body.length);
  }
  if (file) {
    if (!takes(file.type)) {
      const kind = file.what === 'images' ? 'an image' : 'a text';
      throw new BadRequestError(`a raw ${media} body is one of the ${file.what} ${kind} model takes; model ${manifest.name} takes none: ${tensorBytes(manifest, input)}`);
    }
    return oneInput(input.name, [1], 'BYTES', readRawInput('BYTES', body, 1, where), body.length);
  }
  // A model of text tensors takes the body as one (Triton: a BYTES input's raw request has shape [1]).
  if (input.dtype === 'string') return oneInput(input.name, [1], 'BYTES', readRawInput('BYTES', body, 1, where), body.length);
  // A narrower integer the model declares is sent in its own size (Triton: each type in its native size), as metadata names it.
  const datatype = declaredDatatypeOf(input);
  const shape = rawShape(manifest, input, body.length);
  return oneInput(
    input.name,
    shape,
    datatype,
    readRawInput(
      datatype,
      body,
      shape.reduce((a, b) => a * b, 1),
      where,
    ),
    body.length,
  );
}

type SignatureInput = Manifest['signature']['inputs'][number];

const oneInput = (name: string, shape: number[], datatype: OipDatatype, data: unknown, bytes: number): OipInferRequest => ({
  inputs: [{ name, shape, datatype, data: data as OipInferRequest['inputs'][number]['data'], parameters: { binary_data_size: bytes } }],
  parameters: { binary_data_output: true },
});

/** One row of the input ([1, ...] past the batch), its one free dimension, if any, from the byte count. */
function rawShape(manifest: Manifest, input: SignatureInput, bytes: number): number[] {
  if (!input.shape)
    throw new BadRequestError(`model ${manifest.name}'s input ${input.name} has no known shape, which a raw binary body (no JSON header) cannot give: ${SEND_HEADER}`);
  const row = [1, ...input.shape.slice(1)];
  const free = row.filter((d) => d < 0).length;
  if (free > 1) {
    throw new BadRequestError(
      `input ${input.name} of model ${manifest.name} takes [${input.shape}]: more than one dimension past the batch is free, so a raw body's byte count cannot settle them: ${SEND_HEADER}`,
    );
  }
  const fixed = fixedRowBytes(input);
  const count = fixed === 0 ? 0 : bytes / fixed;
  if (!Number.isInteger(count) || (free === 0 ? count !== 1 : count < 1)) {
    throw new BadRequestError(`the raw binary body has ${bytes} bytes; ${tensorBytes(manifest, input)}`);
  }
  return row.map((d) => (d < 0 ? count : d));
}

/** What a raw tensor body for the input is, in words: its datatype, one row's shape and byte count. */
function tensorBytes(manifest: Manifest, input: SignatureInput): string {
  return `${rowBytes(manifest, input)}${fileAdvice(manifest)}`;
}

/** What else a raw body to this model may be, said where the tensor's bytes do not fit. */
function fileAdvice(manifest: Manifest): string {
  const types = inputKindOf(manifest)?.kind.contentTypes ?? [];
  if (types.includes('base64')) return '; or one PNG or JPEG file';
  if (types.includes('str')) return '; or one text, sent as Content-Type: text/plain';
  return '';
}

/** The bytes of one row's fixed dimensions past the batch (all of a row when none is free), in the datatype clients send. */
function fixedRowBytes(input: SignatureInput): number {
  const fixed = (input.shape ?? []).slice(1).filter((d) => d >= 0);
  return fixed.reduce((a, b) => a * b, ELEMENT_BYTES[declaredDatatypeOf(input) as keyof typeof ELEMENT_BYTES]);
}

function rowBytes(manifest: Manifest, input: SignatureInput): string {
  if (!input.shape || input.dtype === 'string') return `its raw body is its input ${input.name}'s ${input.dtype} values`;
  const datatype = declaredDatatypeOf(input) as keyof typeof ELEMENT_BYTES;
  const row = [1, ...input.shape.slice(1)];
  const bytes = fixedRowBytes(input);
  const free = row.some((d) => d < 0);
  return `a raw body for model ${manifest.name} is one row of its input ${input.name}, ${datatype} [${row}] (little-endian), ${free ? `a multiple of ${bytes} bytes` : `${bytes} bytes`}`;
}
