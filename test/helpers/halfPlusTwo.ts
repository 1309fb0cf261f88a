/**
 * TF Serving's own example model, half_plus_two (y = 0.5 x + 2 on scalar instances), as a TF.js
 * graph model, so the request/response examples of the TF Serving and OIP documents can be
 * replayed exactly.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const float = { type: 'DT_FLOAT' };
const dims = (...sizes: number[]) => ({ dim: sizes.map((size) => ({ size: String(size) })) });

export async function writeHalfPlusTwo(): Promise<string> {
  const out = await mkdtemp(path.join(tmpdir(), 'half-plus-two-'));
  const node = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1) } } },
    { name: 'a', op: 'Const', attr: { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims() } } } },
    { name: 'b', op: 'Const', attr: { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims() } } } },
    { name: 'mul', op: 'Mul', input: ['x', 'a'], attr: { T: float } },
    { name: 'y', op: 'AddV2', input: ['mul', 'b'], attr: { T: float } },
  ];
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'test',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: { node, library: {}, versions: { producer: 1482 } },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'a', shape: [], dtype: 'float32' },
          { name: 'b', shape: [], dtype: 'float32' },
        ],
      },
    ],
  };
  await writeFile(path.join(out, 'model.json'), JSON.stringify(modelJson));
  await writeFile(path.join(out, 'group1-shard1of1.bin'), new Uint8Array(new Float32Array([0.5, 2]).buffer));
  return out;
}
