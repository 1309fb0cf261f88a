#!/usr/bin/env node
// A minimal client of the OIP binary tensor data extension (what Triton's and KServe's clients
// send): FP32 rows in binary after a JSON header, every output asked back as binary.
//   node examples/oip-binary.mjs <base URL> <model> <input name> <rows as "a,b,c;d,e,f">
// Prints each output's values as JSON, e.g. {"probabilities":[...],"label":["setosa"]}.
const [base, model, input, rowsText] = process.argv.slice(2);
const rows = rowsText.split(';').map((row) => row.split(',').map(Number));
const values = new Float32Array(rows.flat());
const header = new TextEncoder().encode(
  JSON.stringify({
    inputs: [{ name: input, shape: [rows.length, rows[0].length], datatype: 'FP32', parameters: { binary_data_size: values.byteLength } }],
    parameters: { binary_data_output: true },
  }),
);
const response = await fetch(`${base}/v2/models/${model}/infer`, {
  method: 'POST',
  headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  body: Buffer.concat([header, new Uint8Array(values.buffer)]),
});
const bytes = new Uint8Array(await response.arrayBuffer());
if (!response.ok) throw new Error(`${response.status}: ${new TextDecoder().decode(bytes)}`);
const headerLength = Number(response.headers.get('inference-header-content-length'));
const { outputs } = JSON.parse(new TextDecoder().decode(bytes.subarray(0, headerLength)));
let at = headerLength;
const result = {};
for (const output of outputs) {
  const size = output.parameters?.binary_data_size;
  if (size === undefined) {
    result[output.name] = output.data;
    continue;
  }
  const chunk = bytes.slice(at, at + size);
  at += size;
  if (output.datatype === 'BYTES') {
    const view = new DataView(chunk.buffer);
    const strings = [];
    for (let p = 0; p < chunk.length; p += 4 + view.getUint32(p, true)) strings.push(new TextDecoder().decode(chunk.subarray(p + 4, p + 4 + view.getUint32(p, true))));
    result[output.name] = strings;
  } else result[output.name] = Array.from(output.datatype === 'INT32' ? new Int32Array(chunk.buffer) : new Float32Array(chunk.buffer), (v) => Math.round(v * 1e4) / 1e4);
}
console.log(JSON.stringify(result));
