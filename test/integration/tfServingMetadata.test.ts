/**
 * TF Serving's model status and metadata routes answer what tensorflow_model_server answers: its
 * REST API prints GetModelStatusResponse and GetModelMetadataResponse as protobuf JSON with every
 * primitive field, so each TensorShapeProto dim carries its (empty) `name` beside `size` (an int64,
 * printed as a string). The expected signature is read from each demo model's own model.json.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { call, serving } from '../helpers/serving.js';

const app = serving(new URL('../../models', import.meta.url).href);

interface Layer {
  class_name: string;
  config: { name: string; batch_input_shape?: (number | null)[]; units?: number };
}

/** The TensorInfo TF Serving prints for a float32 tensor of this shape (null: a variable size). */
const tensorInfo = (name: string, shape: (number | null)[]) => ({
  dtype: 'DT_FLOAT',
  tensor_shape: { dim: shape.map((size) => ({ size: String(size ?? -1), name: '' })), unknown_rank: false },
  name,
});

describe('TF Serving metadata and status of the demo models', () => {
  it.each(['iris', 'spam', 'digits', 'housing'])('%s: the SignatureDef of its model.json, as TF Serving prints it', async (model) => {
    const topology = JSON.parse(await readFile(`models/${model}/versions/1/model.json`, 'utf8')).modelTopology.config as {
      layers: Layer[];
      input_layers: [string, number, number][];
      output_layers: [string, number, number][];
    };
    const input = topology.layers.find((l) => l.config.name === topology.input_layers[0][0]) as Layer;
    // Every demo model ends in a Dense layer: [batch, units].
    const output = topology.layers.find((l) => l.config.name === topology.output_layers[0][0]) as Layer;
    expect(output.class_name).toBe('Dense');
    const outputName = output.config.name;
    const outputShape = [null, output.config.units as number];
    const answer = await call(app.metadata, 'GET', `/v1/models/${model}/metadata`);
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toEqual({
      model_spec: { name: model, signature_name: '', version: '1' },
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: { [input.config.name]: tensorInfo(input.config.name, input.config.batch_input_shape ?? []) },
              outputs: { [outputName]: tensorInfo(outputName, outputShape) },
              method_name: 'tensorflow/serving/predict',
            },
          },
        },
      },
    });
  });

  it.each(['iris', 'spam', 'digits', 'housing'])('%s: every committed version AVAILABLE with status OK, as GetModelStatusResponse prints', async (model) => {
    const expected = { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] };
    for (const path of [`/v1/models/${model}`, `/v1/models/${model}/versions/1`, `/v1/models/${model}/labels/production`]) {
      expect((await call(app.metadata, 'GET', path)).body).toEqual(expected);
    }
  });
});
