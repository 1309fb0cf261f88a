// The bare way to serve the same model: TF.js from node_modules on the wasm backend, the same
// model.json and weights fetched over HTTP from the same S3 server, tf.loadLayersModel, one predict.
//   node bench/children/rawMobileNet.mjs <wasm dir> <model.json URL>
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadLayersModel } from '@tensorflow/tfjs-layers';

const [wasmDir, modelUrl] = process.argv.slice(2);
setWasmPaths(wasmDir.endsWith('/') ? wasmDir : `${wasmDir}/`);
await tf.setBackend('wasm');
const modelJson = await fetch(modelUrl).then((r) => r.json());
// The weight shards, in the manifest's order, beside model.json.
const shards = await Promise.all(modelJson.weightsManifest.flatMap((g) => g.paths).map((p) => fetch(new URL(p, modelUrl)).then((r) => r.arrayBuffer())));
const weights = new Uint8Array(shards.reduce((n, b) => n + b.byteLength, 0));
let at = 0;
for (const shard of shards) {
  weights.set(new Uint8Array(shard), at);
  at += shard.byteLength;
}
const model = await loadLayersModel(
  tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights), weightData: weights.buffer }),
);
const y = model.predict(tf.zeros([1, 224, 224, 3]));
const values = await y.data();
process.stdout.write(`BENCH ${JSON.stringify({ statusCode: 200, classes: values.length })}\n`);
process.exit(0);
