/** modelctl explain on the demo models in the repo: the top attributions printed, a PNG written. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { runModelctl } from '../helpers/modelctl.js';
import { call, serving } from '../helpers/serving.js';

const ctl = (...args: string[]) => runModelctl(args);

describe('modelctl explain', () => {
  it('prints the attributions of a tabular instance, largest first, with the convergence delta', async () => {
    const instance = JSON.stringify({ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 });
    const { stdout, code } = await ctl('explain', 'iris:1', '--instance', instance, '--target', 'setosa', '-k', '2');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^iris:1 integratedGradients \(target setosa, baseline mean, steps 50, integration gaussLegendre\)/);
    expect(stdout).toMatch(/instance 1: setosa \(score 0\.99\d+\), baseline score [\d.e-]+, convergence delta/);
    expect(stdout).toMatch(/^score: probability of the target class \(softmax output\), of output probabilities$/m);
    const rows = stdout.split('\n').filter((l) => /^(petal|sepal)_/.test(l));
    expect(rows).toHaveLength(2);
  });

  it('explains text with kernelShap and an image with a heatmap PNG', async () => {
    const text = await ctl('explain', 'spam:1', '--instance', 'Click here for FREE money', '--method', 'kernelShap');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/expected value [\d.]+, exact/);
    expect(text.stdout).toMatch(/free\(\+[\d.e-]+\) money\(\+[\d.e-]+\)/);

    const dir = await mkdtemp(path.join(tmpdir(), 'explain-cli-'));
    const line = (await readFile(path.resolve('models/_datasets/digits-test.jsonl'), 'utf8')).split('\n')[0];
    const image = path.join(dir, 'digit.png');
    await writeFile(image, Buffer.from((JSON.parse(line) as { image: { b64: string } }).image.b64, 'base64'));
    const out = path.join(dir, 'heat.png');
    const digits = await ctl('explain', 'digits:1', '--image', image, '--png', out, '-k', '3');
    expect(digits.code).toBe(0);
    expect(digits.stdout).toMatch(/pixel\s+attribution/);
    expect(digits.stdout).toContain(`heatmap overlay written to ${out}`);
    expect(PNG.sync.read(await readFile(out)).width).toBe(224);
  });

  it('says what is wrong with an instance, named by the option that gave it (exit 2: the command line is wrong)', async () => {
    const shape = await ctl('explain', 'iris:1', '--instance', '[1, 2]');
    expect(shape.code).toBe(2);
    expect(shape.stderr).toMatch(/^modelctl: --instance: shape \[1,2\] does not fit the model's input \[-1,4\]/m);
    const full = JSON.stringify({ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 });
    const second = await ctl('explain', 'iris:1', '--instance', full, '--instance', '{"sepal_length":1}');
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/^modelctl: --instance 2: missing sepal_width, petal_length, petal_width/m);
    const image = await ctl('explain', 'digits:1', '--image', 'package.json');
    expect(image.code).toBe(2);
    expect(image.stderr).toMatch(/^modelctl: --image package\.json: not a PNG or JPEG image/m);
    // A place inside an instance stays after the option that gave it.
    const inside = await ctl('explain', 'iris:1', '--instance', '[[1, 2, 3, "x"]]');
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/^modelctl: --instance 1 ?\[/m);
  });

  it('says that an --instance opening as JSON is not valid JSON, where, rather than reading it as text (exit 2)', async () => {
    const { stderr, code } = await ctl('explain', 'iris:1', '--instance', '{bad json');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^modelctl: --instance: not valid JSON \(.*position 1\b.*\); a text that starts with \{ or \[ goes as a JSON string/m);
    // Such a text, quoted, is still a text instance.
    const text = await ctl('explain', 'spam:1', '--instance', '"[URGENT] click here for FREE money"', '--method', 'saliency', '-k', '1');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/instance 1: /);
  });
});

describe('modelctl explain takes every parameter the HTTP route takes', () => {
  it('--background, --seed, --patch-size and --integration: the answer of the same request over HTTP', async () => {
    const instance = { sepal_length: 6.3, sepal_width: 2.8, petal_length: 5.1, petal_width: 1.5 };
    const background = [{ sepal_length: 5.0, sepal_width: 3.4, petal_length: 1.5, petal_width: 0.2 }];
    const app = serving('file://models');
    const cases: [string[], Record<string, unknown>][] = [
      [['--method', 'kernelShap', '--background', JSON.stringify(background), '--seed', '3'], { method: 'kernelShap', background, seed: 3 }],
      [['--integration', 'trapezoid', '--steps', '8'], { integration: 'trapezoid', steps: 8 }],
    ];
    for (const [flags, fields] of cases) {
      const cli = await ctl('explain', 'iris:1', '--instance', JSON.stringify(instance), '--json', ...flags);
      expect(cli.code, cli.stderr).toBe(0);
      const http = await call(app.explain, 'POST', '/v2/models/iris/versions/1/explain', { instances: [instance], ...fields });
      expect(http.statusCode).toBe(200);
      expect(JSON.parse(cli.stdout)).toEqual(http.body);
    }
    // One background row: the expected value is the model's score of it (the coalition of no features).
    const shap = JSON.parse(
      (await ctl('explain', 'iris:1', '--instance', JSON.stringify(instance), '--json', '--method', 'kernelShap', '--background', JSON.stringify(background))).stdout,
    );
    const predicted = await call(app.predict, 'POST', '/v1/models/iris/versions/1:predict', { instances: background, raw: true });
    const explained = shap.data.explanations[0];
    expect(explained.expectedValue).toBeCloseTo(predicted.body.predictions[0][explained.target.index], 5);
    // An image's patches: the same answer as over HTTP.
    const line = (await readFile(path.resolve('models/_datasets/digits-test.jsonl'), 'utf8')).split('\n')[0];
    const b64 = (JSON.parse(line) as { image: { b64: string } }).image.b64;
    const image = path.join(await mkdtemp(path.join(tmpdir(), 'explain-cli-')), 'digit.png');
    await writeFile(image, Buffer.from(b64, 'base64'));
    const patches = await ctl('explain', 'digits:1', '--image', image, '--json', '--method', 'kernelShap', '--patch-size', '14', '--n-samples', '64');
    expect(patches.code, patches.stderr).toBe(0);
    const overHttp = await call(app.explain, 'POST', '/v2/models/digits/versions/1/explain', { instances: [{ b64 }], method: 'kernelShap', patchSize: 14, nSamples: 64 });
    expect(JSON.parse(patches.stdout)).toEqual(overHttp.body);
    // Not an array: named by the flag (exit 2).
    const bad = await ctl('explain', 'iris:1', '--instance', JSON.stringify(instance), '--background', '{"not":"an array"}');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--background: a JSON array of reference instances/);
  });
});
