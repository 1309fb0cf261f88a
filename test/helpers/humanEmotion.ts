/**
 * @vladmandic/human's own emotion step (src/gear/emotion.ts, shipped in the package), run on this
 * project's TF.js and backend: esbuild bundles that source file with its imports from the package,
 * its `dist/tfjs.esm.js` (human's own bundled TF.js) replaced by @tensorflow/tfjs-core and
 * -converter, the instances the service uses, so both run the same kernels. The package's built
 * dist/human.node*.js holds the same steps and constants (resizeBilinear(face, [64, 64], false),
 * rgb [0.2989, 0.587, 0.114], (grey - 0.5) * 2), read there for 3.3.6.
 *
 * human's predict() answers each score cut down to two decimals for display; the unrounded scores
 * are read from the model it calls (its output, observed, not changed).
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as tf from '@tensorflow/tfjs-core';
import { build } from 'esbuild';

const HUMAN = path.resolve('node_modules/@vladmandic/human');
const require = createRequire(import.meta.url);

/** human's src/gear/emotion.ts as an ES module whose TF.js is ours. */
async function bundleEmotion(): Promise<string> {
  const core = require.resolve('@tensorflow/tfjs-core');
  const converter = require.resolve('@tensorflow/tfjs-converter');
  const result = await build({
    stdin: { contents: `export { load, predict } from './src/gear/emotion.ts';`, resolveDir: HUMAN, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'our-tfjs',
        setup(b) {
          b.onResolve({ filter: /^dist\/tfjs\.esm\.js$/ }, () => ({ path: 'tfjs', namespace: 'our-tfjs' }));
          b.onLoad({ filter: /.*/, namespace: 'our-tfjs' }, () => ({
            // human reads the versions as @tensorflow/tfjs's `version` object names them.
            contents: [
              `export * from ${JSON.stringify(core)};`,
              `export { GraphModel, loadGraphModel } from ${JSON.stringify(converter)};`,
              `import { version_core } from ${JSON.stringify(core)};`,
              `export const version = { 'tfjs-core': version_core };`,
            ].join('\n'),
            resolveDir: HUMAN,
          }));
          b.onResolve({ filter: /tf-(core|converter)\.node\.js$/ }, (args) => ({ path: args.path, external: true }));
        },
      },
    ],
  });
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'human-emotion-')), 'emotion.mjs');
  await writeFile(file, result.outputFiles[0].text);
  return file;
}

/** human's models/ folder over HTTP: human loads its models with fetch(). */
async function serveModels(): Promise<{ server: Server; base: string }> {
  const server = createServer(async (request, response) => {
    const name = path.basename(new URL(request.url ?? '/', 'http://x').pathname);
    try {
      response.end(await readFile(path.join(HUMAN, 'models', name)));
    } catch {
      response.statusCode = 404;
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { server, base: `http://127.0.0.1:${address.port}/` };
}

interface EmotionModule {
  load(config: unknown): Promise<{ execute: (input: tf.Tensor) => tf.Tensor }>;
  predict(image: tf.Tensor4D, config: unknown, idx: number, count: number): Promise<{ score: number; emotion: string }[]>;
}

export interface HumanEmotion {
  /** human's scores on a face, [1, H, W, 3] RGB in 0..1 (its face crop): unrounded, in the model's order, and as predict() answers them. */
  scores(face: tf.Tensor4D): Promise<{ raw: number[]; shown: { score: number; emotion: string }[] }>;
  close(): void;
}

export async function humanEmotion(): Promise<HumanEmotion> {
  const emotion = (await import(pathToFileURL(await bundleEmotion()).href)) as EmotionModule;
  const { server, base } = await serveModels();
  // human's defaults for emotion (src/config.ts), every face scored afresh, no score left out.
  const config = { skipAllowed: false, face: { emotion: { enabled: true, minConfidence: 0, skipFrames: 0, skipTime: 0, modelPath: `${base}emotion.json` } } };
  const model = await emotion.load(config);
  let raw: number[] = [];
  const execute = model.execute.bind(model);
  model.execute = (input) => {
    const output = execute(input);
    raw = Array.from(output.dataSync());
    return output;
  };
  return {
    async scores(face) {
      const shown = await emotion.predict(face, config, 0, 1);
      return { raw, shown };
    },
    close: () => server.close(),
  };
}
