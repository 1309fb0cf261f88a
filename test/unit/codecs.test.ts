/**
 * Codec tables built from the protocol documents' own examples:
 * - TF Serving: the REST API document of TensorFlow Serving ("Request format", row and columnar examples
 *   with the inputs tag/signal/sensor; half_plus_two; {"b64": ...}; "Response format").
 * - OIP v2: the Open Inference Protocol's REST specification ("Inference Request Examples": input0
 *   UINT32 shape [2, 2] data [1, 2, 3, 4]; nested data [[1, 2], [4, 5]]).
 */
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { manifestSchema, type Manifest } from '../../lib/registry/index.js';
import { binaryResponse, readBinaryRequest } from '../../lib/protocol/binaryData.js';
import { decodeOip, encodeOip, oipInferRequest, oipResponse } from '../../lib/protocol/oip.js';
import { decodeTfServing, encodeTfServing, tfServingPredictRequest } from '../../lib/protocol/tfserving.js';
import { OIP_TO_TF, TF_TO_OIP } from '../../lib/protocol/datatypes.js';
import { toAnswers, topLabels } from '../../lib/protocol/answers.js';
import { binaryRequest } from '../helpers/binaryClient.js';

function manifest(fields: Partial<Manifest> & Pick<Manifest, 'signature'>): Manifest {
  return manifestSchema.parse({ name: 'm', version: 3, format: 'graph', task: 'regression', files: {}, createdAt: '2026-01-01T00:00:00Z', ...fields });
}

// The three named inputs of the TF Serving document's examples.
const docModel = manifest({
  signature: {
    inputs: [
      { name: 'tag', dtype: 'string', shape: [-1] },
      { name: 'signal', dtype: 'float32', shape: [-1, 5] },
      { name: 'sensor', dtype: 'float32', shape: [-1, 2, 2] },
    ],
    outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }],
  },
});

describe("TF Serving request decoding (the REST API document's examples)", () => {
  it.each([
    [
      'row format',
      {
        instances: [
          {
            tag: 'foo',
            signal: [1, 2, 3, 4, 5],
            sensor: [
              [1, 2],
              [3, 4],
            ],
          },
          {
            tag: 'bar',
            signal: [3, 4, 1, 2, 5],
            sensor: [
              [4, 5],
              [6, 8],
            ],
          },
        ],
      },
    ],
    [
      'columnar format',
      {
        inputs: {
          tag: ['foo', 'bar'],
          signal: [
            [1, 2, 3, 4, 5],
            [3, 4, 1, 2, 5],
          ],
          sensor: [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [4, 5],
              [6, 8],
            ],
          ],
        },
      },
    ],
  ])('decodes the %s example into the same three tensors', (_case, body) => {
    const plan = decodeTfServing(docModel, tfServingPredictRequest.parse(body));
    expect(plan.kind).toBe('tensors');
    if (plan.kind !== 'tensors') return;
    const byName = Object.fromEntries(plan.tensors.map((t) => [t.name, { shape: t.shape, data: Array.from(t.data) }]));
    expect(byName).toEqual({
      tag: { shape: [2], data: ['foo', 'bar'] },
      signal: { shape: [2, 5], data: [1, 2, 3, 4, 5, 3, 4, 1, 2, 5] },
      sensor: { shape: [2, 2, 2], data: [1, 2, 3, 4, 4, 5, 6, 8] },
    });
  });

  it('decodes half_plus_two scalar instances ({"instances": [1.0, 2.0, 5.0]})', () => {
    const half = manifest({ signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }] } });
    const plan = decodeTfServing(half, tfServingPredictRequest.parse({ instances: [1.0, 2.0, 5.0] }));
    expect(plan).toEqual({ kind: 'tensors', columnar: false, tensors: [{ name: 'x', dtype: 'float32', shape: [3], data: new Float32Array([1, 2, 5]) }] });
  });

  it('encodes the row response: one prediction per instance, an object per instance for several outputs', () => {
    const two = manifest({
      signature: {
        inputs: docModel.signature.inputs,
        outputs: [
          { name: 'a', dtype: 'float32', shape: [-1] },
          { name: 'b', dtype: 'float32', shape: [-1, 2] },
        ],
      },
    });
    const outputs = [
      { name: 'a', dtype: 'float32' as const, shape: [2], data: new Float32Array([1, 2]) },
      { name: 'b', dtype: 'float32' as const, shape: [2, 2], data: new Float32Array([3, 4, 5, 6]) },
    ];
    expect(encodeTfServing(two, outputs, { columnar: false, raw: true })).toEqual({
      predictions: [
        { a: 1, b: [3, 4] },
        { a: 2, b: [5, 6] },
      ],
      model_version: '3',
    });
    expect(encodeTfServing(two, outputs, { columnar: true, raw: true })).toEqual({
      outputs: {
        a: [1, 2],
        b: [
          [3, 4],
          [5, 6],
        ],
      },
      model_version: '3',
    });
  });

  // json_tensor_test's FromJsonSingleTensorErrors ("no shape information") and MakeRowFormatJsonFromTensors's "inconsistent batch size".
  it('refuses the row form of an output that rows cannot split (a scalar, another batch size), and answers it whole in the columnar form', () => {
    const sum = manifest({ signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3] }], outputs: [{ name: 'total', dtype: 'float32', shape: [] }] } });
    const total = { name: 'total', dtype: 'float32' as const, shape: [], data: new Float32Array([21]) };
    const doubled = { name: 'doubled', dtype: 'float32' as const, shape: [2, 1], data: new Float32Array([2, 8]) };
    const kept = { name: 'kept', dtype: 'float32' as const, shape: [3], data: new Float32Array([0, 1, 1]) };
    expect(() => encodeTfServing(sum, [total, doubled], { columnar: false, raw: true })).toThrow(/output total is one value for all rows: .*send the columnar form/);
    expect(() => encodeTfServing(sum, [doubled, kept], { columnar: false, raw: true })).toThrow(/output kept has 3 rows where doubled has 2/);
    expect(encodeTfServing(sum, [total, doubled], { columnar: true, raw: true })).toEqual({ outputs: { total: 21, doubled: [[2], [8]] }, model_version: '3' });
  });

  it.each([
    [{ instances: [{ tag: 'foo', signal: [1, 2, 3, 4, 5] }] }, /instances\[0\]: expected an object with the inputs tag, signal, sensor/],
    [{ inputs: { tag: ['foo'], signal: [[1, 2, 3, 4, 5]], sensor: [[[1, 2], [3]]] } }, /inputs.sensor\[0\]\[1\]: ragged/],
    [{ instances: [1], inputs: [1] }, /exactly one of/],
  ])('rejects %j', (body, message) => {
    expect(() => decodeTfServing(docModel, tfServingPredictRequest.parse(body))).toThrow(message);
  });
});

describe("OIP v2 request decoding (the specification's examples)", () => {
  const model = manifest({ signature: { inputs: [{ name: 'input0', dtype: 'int32', shape: [-1, 2] }], outputs: [{ name: 'output0', dtype: 'float32', shape: [-1, 2] }] } });

  it.each([
    ['flat data', [1, 2, 3, 4]],
    [
      'nested data',
      [
        [1, 2],
        [3, 4],
      ],
    ],
  ])('decodes input0 UINT32 [2, 2] with %s', (_case, data) => {
    const request = oipInferRequest.parse({ id: '42', inputs: [{ name: 'input0', shape: [2, 2], datatype: 'UINT32', data }], outputs: [{ name: 'output0' }] });
    expect(decodeOip(model, request)).toEqual({ kind: 'tensors', tensors: [{ name: 'input0', dtype: 'int32', shape: [2, 2], data: new Int32Array([1, 2, 3, 4]) }] });
  });

  it('BYTES in binary are the text JSON sends: a byte-order mark at its start is kept (TextDecoder removed it)', () => {
    const raw = manifest({ signature: { inputs: [{ name: 'text', dtype: 'string', shape: [-1] }], outputs: [{ name: 'score', dtype: 'float32', shape: [-1, 1] }] } });
    const text = '\uFEFFhello';
    const { body, headerLength } = binaryRequest([{ name: 'text', shape: [1], datatype: 'BYTES', values: [text] }]);
    const binary = decodeOip(raw, oipInferRequest.parse(readBinaryRequest(body, String(headerLength))));
    const json = decodeOip(raw, oipInferRequest.parse({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [text] }] }));
    expect(binary).toEqual(json);
    expect(binary).toMatchObject({ tensors: [{ data: [text] }] });
  });

  it('encodes the response example: id echoed, output0 FP32 [3, 2] flat', () => {
    const request = oipInferRequest.parse({ id: '42', inputs: [{ name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] }], outputs: [{ name: 'output0' }] });
    const outputs = [{ name: 'output0', dtype: 'float32' as const, shape: [3, 2], data: [1.0, 1.1, 2.0, 2.1, 3.0, 3.1] }];
    expect(encodeOip(model, outputs, request)).toEqual({
      model_name: 'm',
      model_version: '3',
      id: '42',
      outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data: [1.0, 1.1, 2.0, 2.1, 3.0, 3.1] }],
    });
  });

  it('answers a bool output as BOOL: true and false in JSON, one byte each (1, 0) in binary', () => {
    const request = oipInferRequest.parse({ inputs: [{ name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] }] });
    // A bool tensor's values as TF.js reads them: bytes.
    const outputs = [{ name: 'mask', dtype: 'bool' as const, shape: [3], data: new Uint8Array([1, 0, 1]) }];
    expect(encodeOip(model, outputs, request).outputs).toEqual([{ name: 'mask', shape: [3], datatype: 'BOOL', data: [true, false, true] }]);
    const response = oipResponse(model, outputs, request);
    const asJson = binaryResponse(response, () => false);
    expect(JSON.parse(Buffer.from(asJson.body).toString('utf8')).outputs[0].data).toEqual([true, false, true]);
    const { body, headerLength } = binaryResponse(response, () => true);
    expect(Array.from(body.subarray(headerLength))).toEqual([1, 0, 1]);
  });

  it('rejects the example input1 (BOOL, shape [3], one value)', () => {
    const request = oipInferRequest.parse({ inputs: [{ name: 'input1', shape: [3], datatype: 'BOOL', data: [true] }] });
    expect(() => decodeOip(model, request)).toThrow(BadRequestError);
    expect(() => decodeOip(model, request)).toThrow(/shape \[3\] needs 3 values, data has 1/);
  });
});

describe('datatype tables', () => {
  it.each(Object.entries(TF_TO_OIP))('the inverse of %s -> %s maps back', (tf, oip) => {
    expect(OIP_TO_TF[oip]).toBe(tf);
  });
});

describe("OIP's label output", () => {
  it('is the label toAnswers gives each row (first on a tie), for softmax and binary outputs', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (let trial = 0; trial < 200; trial += 1) {
      const binary = trial % 2 === 0;
      const width = binary ? 1 : 2 + (trial % 5);
      const rows = 1 + (trial % 7);
      // Coarse values so ties happen (0.5 against 0.5 for binary, equal maxima otherwise).
      const data = Float32Array.from({ length: rows * width }, () => Math.round(random() * 4) / 4);
      const manifest = { task: binary ? ('binary' as const) : ('classification' as const), labels: Array.from({ length: binary ? 2 : width }, (_, i) => `c${i}`) };
      const output = { name: 'p', dtype: 'float32' as const, shape: [rows, width], data };
      expect(topLabels(manifest, output)).toEqual((toAnswers(manifest, output) as { label: string }[]).map((a) => a.label));
    }
  });
});
