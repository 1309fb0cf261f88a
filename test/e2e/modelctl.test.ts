import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempFolderStore } from '../helpers/stores.js';
import { writeGraphModel, writeLayersModel } from '../helpers/tinyModels.js';

const run = promisify(execFile);
const modelctl = path.resolve('bin/modelctl.js');

async function ctl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(modelctl, args);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('modelctl', () => {
  it('lists the demo models in the repo with versions, aliases and test metrics', async () => {
    const { stdout, code } = await ctl('list', '--json');
    expect(code).toBe(0);
    const rows = JSON.parse(stdout) as { model: string; version: number; aliases: string; metrics: Record<string, number> }[];
    const byModel = Object.fromEntries(rows.map((r) => [r.model, r]));
    for (const name of ['iris', 'spam', 'housing', 'digits']) {
      expect(byModel[name], name).toMatchObject({ version: 1, aliases: expect.stringContaining('production') });
    }
    expect(byModel.iris.metrics.accuracy).toBeGreaterThan(0.9);
    expect(byModel.spam.metrics.accuracy).toBeGreaterThan(0.9);
    expect(byModel.digits.metrics.accuracy).toBeGreaterThan(0.9);
    expect(byModel.housing.metrics.r2).toBeGreaterThan(0.6);
  });

  it('pushes, shows, promotes and rolls back on any store', async () => {
    const store = (await tempFolderStore()).uri;
    const [layers, graph] = await Promise.all([writeLayersModel(), writeGraphModel()]);
    expect((await ctl('--store', store, 'push', layers, '--name', 'demo', '--labels', 'a,b,c', '--alias', 'production')).stdout).toMatch(
      /pushed demo:1 \(layers, classification\)[\s\S]*alias production -> 1/,
    );
    expect((await ctl('--store', store, 'push', graph, '--name', 'demo')).stdout).toMatch(/pushed demo:2 \(graph, classification\)/);
    expect(JSON.parse((await ctl('--store', store, 'show', 'demo@production')).stdout)).toMatchObject({ version: 1, labels: ['a', 'b', 'c'], versions: [1, 2] });
    expect((await ctl('--store', store, 'promote', 'demo', '2', '--alias', 'production')).stdout).toMatch(/demo@production -> 2 \(was 1\)/);
    expect((await ctl('--store', store, 'rollback', 'demo', '--alias', 'production')).stdout).toMatch(/demo@production -> 1 \(rolled back\)/);
    expect(JSON.parse((await ctl('--store', store, 'show', 'demo')).stdout).version).toBe(1);
  });

  it.each([
    [['show', 'nope'], /modelctl: no model named nope/],
    [['promote', 'iris', '99', '--alias', 'production'], /has no version 99/],
    [['push', '/nonexistent', '--name', 'x'], /has no model.json/],
    [['push', '.', '--name', '../evil'], /invalid model name/],
    [['list', '--bogus'], /unknown option/],
  ])('modelctl %j fails with a clear message', async (args, message) => {
    const { stderr, code } = await ctl(...args);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace for a user error
  });
});
