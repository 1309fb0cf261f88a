/**
 * Each function's bundle holds its own operation (dist/<fn>/meta.json, esbuild's metafile of the
 * build the suite made): what a cold start loads (index.js and the chunks it imports statically)
 * holds no explanation code in the predict function, and the evaluate function carries no
 * fine-tuning code at all.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { startupOutputs } from '../../scripts/build.js';

async function metafile(fn: string): Promise<Metafile> {
  return JSON.parse(await readFile(path.resolve('dist', fn, 'meta.json'), 'utf8')) as Metafile;
}

/** Source files of the repo in the given outputs. */
function sources(meta: Metafile, outputs: string[]): string[] {
  return outputs.flatMap((file) => Object.keys(meta.outputs[file].inputs)).filter((input) => !input.includes('node_modules'));
}

describe('bundles', () => {
  it('predict starts without explanation code, and loads it for KServe :explain only', async () => {
    const meta = await metafile('predict');
    const startup = sources(meta, startupOutputs(meta, 'dist/predict/index.js'));
    expect(startup).toContain('lib/ops/predict.ts');
    expect(startup.filter((s) => s.startsWith('lib/ops/explain/'))).toEqual([]);
    const all = sources(meta, Object.keys(meta.outputs));
    expect(all).toContain('lib/ops/explain/integratedGradients.ts'); // a lazy chunk
  });

  it('evaluate carries no fine-tuning code, and fine-tune no explanation code', async () => {
    const evaluate = await metafile('evaluate');
    expect(sources(evaluate, Object.keys(evaluate.outputs)).filter((s) => s.includes('fineTune'))).toEqual([]);
    const fineTune = await metafile('fineTune');
    expect(sources(fineTune, Object.keys(fineTune.outputs)).filter((s) => s.includes('explain'))).toEqual([]);
  });

  it('no handler bundles another handler', async () => {
    for (const fn of ['predict', 'metadata', 'explain', 'evaluate', 'fineTune', 'jobWorker', 'batchScore']) {
      const meta = await metafile(fn);
      const handlers = [...new Set(sources(meta, Object.keys(meta.outputs)).filter((s) => s.startsWith('handlers/')))];
      expect(handlers, fn).toEqual([`handlers/${fn}.ts`]);
    }
  });
});
