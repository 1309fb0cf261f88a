/**
 * modelctl explain: the explain service on a model of any store, without HTTP.
 *
 *   modelctl explain iris@production --instance '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}'
 *   modelctl explain spam --instance 'Click here for FREE money' --method kernelShap
 *   modelctl explain digits --image seven.png --png seven-heatmap.png
 */
import cliProgress from 'cli-progress';
import { BadRequestError } from '../../lib/errors.js';
import { explainRequest } from '../../lib/ops/explain/request.js';
import { explain as explainService, type ExplainAnswer, type InstanceExplanation } from '../../lib/ops/explain/service.js';
import type { Services } from '../../lib/services.js';
import { parseOptions, UsageError } from '../errors.js';
import { table } from '../format.js';
import { checkRefExists, refArgument } from '../refs.js';
import { checkOutputFolder, readOptionFile, writeOptionFile } from '../userFiles.js';

export interface ExplainOptions {
  instance?: string[];
  image?: string[];
  method?: string;
  target?: string;
  steps?: number;
  baseline?: string;
  nSamples?: number;
  samples?: number;
  noiseLevel?: number;
  integration?: string;
  background?: string;
  patchSize?: number;
  seed?: number;
  png?: string;
  top: number;
  json?: boolean;
}

/**
 * JSON when it parses (a record, a row, a quoted string), else the text itself (a text model's
 * instance). A value that opens as JSON does, with { or [, must parse: taken as text, '{bad json'
 * was refused by the model as not an instance, hiding the typo.
 */
function instanceOf(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (/^\s*[[{]/.test(text)) {
      throw new UsageError(`${flag}: not valid JSON (${(error as Error).message}); a text that starts with { or [ goes as a JSON string, e.g. '"[URGENT] ..."'`);
    }
    return text;
  }
}

/** --background: a JSON array of instances, as the request's `background` takes them. */
function backgroundOf(text: string): unknown[] {
  const parsed = instanceOf('--background', text);
  if (!Array.isArray(parsed))
    throw new UsageError(`--background: a JSON array of reference instances, e.g. '[{"sepal_length":5.8,...}]', not ${JSON.stringify(text).slice(0, 60)}`);
  return parsed;
}

/**
 * The service's refusals of what an option asked of this model (a target it does not have, a
 * baseline of another length, a heatmap of a model without image inputs), which its messages name
 * by the request's field: mistakes in the command line, named by the flag (exit 2), as evaluate's
 * --top-k and --threshold are.
 */
const OPTION_FIELDS: [RegExp, string][] = [
  [/^target(?=:)/, '--target'],
  [/^baseline(?=[:[])/, '--baseline'],
  [/^background(?=[:[])/, '--background'],
  [/^format png(?=:)/, '--png'],
];
function optionRefusal(error: unknown, sources: string[]): unknown {
  if (!(error instanceof BadRequestError)) return error;
  const field = OPTION_FIELDS.find(([pattern]) => pattern.test(error.message));
  if (field) return new UsageError(error.message.replace(field[0], field[1]));
  // An instance the model cannot take came from the command line too: named by the option that
  // gave it (the i-th --instance, or --image and its file), as any other option's mistake.
  const instance = /^instances\[(\d+)\]/.exec(error.message);
  const source = instance ? sources[Number(instance[1])] : undefined;
  if (instance && source) {
    // A place inside the instance (instances[1][3]) stays, after the option: "--instance 2 [3]: ...".
    const rest = error.message.slice(instance[0].length);
    return new UsageError(`${source}${rest.startsWith('[') ? ' ' : ''}${rest}`);
  }
  // Of the instances as a whole: named by the options that gave them.
  const given = [...new Set(sources.map((s) => s.split(' ')[0]))].join(' and ');
  if (/^instances\b/.test(error.message)) return new UsageError(error.message.replace(/^instances/, given));
  return error;
}

const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toPrecision(4)}`;

function describe(e: InstanceExplanation, index: number): string {
  const parts = [`instance ${index + 1}: ${e.target.label ?? e.target.index} (score ${e.score.toPrecision(4)})`];
  if (typeof e.convergenceDelta === 'number')
    parts.push(`baseline score ${(e.baselineScore as number).toPrecision(4)}, convergence delta ${(e.convergenceDelta as number).toExponential(2)}`);
  if (typeof e.expectedValue === 'number') parts.push(`expected value ${(e.expectedValue as number).toPrecision(4)}${e.exact ? ', exact' : `, ${e.coalitions} coalitions`}`);
  return parts.join(', ');
}

function top(e: InstanceExplanation, k: number): string {
  if (Array.isArray(e.features)) {
    return table(
      (e.features as { name: string; value: number; attribution: number }[]).slice(0, k).map((f) => ({ feature: f.name, value: f.value, attribution: signed(f.attribution) })),
    );
  }
  if (Array.isArray(e.words)) {
    const words = table(
      (e.words as { word: string; count: number; attribution: number }[]).slice(0, k).map((w) => ({ word: w.word, count: w.count, attribution: signed(w.attribution) })),
    );
    const tokens = Array.isArray(e.tokens)
      ? `\n${(e.tokens as { token: string; attribution: number; inVocabulary: boolean }[]).map((t) => (t.inVocabulary ? `${t.token}(${signed(t.attribution)})` : t.token)).join(' ')}`
      : '';
    return words + tokens;
  }
  if (Array.isArray(e.heatmap)) {
    const cells = (e.heatmap as number[][]).flatMap((row, y) => row.map((v, x) => ({ y, x, v })));
    cells.sort((a, b) => Math.abs(b.v) - Math.abs(a.v));
    return table(cells.slice(0, k).map((c) => ({ pixel: `y${c.y} x${c.x}`, attribution: signed(c.v) })));
  }
  return JSON.stringify(e.attributions);
}

function formatExplanation(answer: ExplainAnswer, k: number): string {
  const { meta } = answer;
  const params = Object.entries(meta.params)
    .map(([key, v]) => `${key} ${v}`)
    .join(', ');
  // The output explained: of a model with several, the one its answers read (the HTTP answer's meta.output).
  const lines = [`${meta.modelName}:${meta.modelVersion} ${meta.method} (${params})`, `score: ${meta.score}, of output ${meta.output}`];
  for (const [i, e] of answer.data.explanations.entries()) lines.push('', describe(e, i), top(e, k));
  return lines.join('\n');
}

export async function explain(services: Services, refText: string, options: ExplainOptions): Promise<string> {
  const ref = refArgument(refText);
  /** Each instance's option, as a refusal names it: the i-th --instance, or --image and its file. */
  const sources = [...(options.instance ?? []).map((_, i) => `--instance ${i + 1}`), ...(options.image ?? []).map((file) => `--image ${file}`)];
  const instances = [
    ...(options.instance ?? []).map((text) => instanceOf('--instance', text)),
    ...(await Promise.all((options.image ?? []).map(async (file) => ({ b64: (await readOptionFile('--image', file)).toString('base64') })))),
  ];
  if (instances.length === 0) throw new UsageError('give at least one --instance or --image');
  const baseline =
    options.baseline === undefined ? undefined : options.baseline === 'zeros' || options.baseline === 'mean' ? options.baseline : instanceOf('--baseline', options.baseline);
  const target = options.target === undefined ? undefined : /^\d+$/.test(options.target) ? Number(options.target) : options.target;
  if (options.png) await checkOutputFolder('--png', options.png);
  const request = parseOptions(
    explainRequest,
    Object.fromEntries(
      Object.entries({
        instances,
        method: options.method,
        target,
        baseline,
        steps: options.steps,
        nSamples: options.nSamples,
        samples: options.samples,
        noiseLevel: options.noiseLevel,
        integration: options.integration,
        background: options.background === undefined ? undefined : backgroundOf(options.background),
        patchSize: options.patchSize,
        seed: options.seed,
        format: options.png ? 'png' : undefined,
      }).filter(([, v]) => v !== undefined),
    ),
    { instances: '--instance', format: '--png' },
  );
  const { loader } = services;
  // Passes of many rows (kernelShap's coalitions through an image model) can take minutes: each
  // pass is shown as it goes, on a terminal (cli-progress draws nothing when stderr is not one).
  const bar = new cliProgress.SingleBar({ format: '{pass} [{bar}] {value}/{total} rows', clearOnComplete: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
  let shown: string | undefined;
  const progress = (pass: string, done: number, total: number) => {
    if (shown !== `${pass} ${total}`) {
      if (shown !== undefined) bar.stop();
      bar.start(total, 0, { pass });
      shown = `${pass} ${total}`;
    }
    bar.update(done);
  };
  try {
    await checkRefExists(services.store, ref);
    const answer = await loader.withModel(ref, (loaded) =>
      explainService(loaded, request, { ...services.limits, progress }).catch((error: unknown) => {
        throw optionRefusal(error, sources);
      }),
    );
    bar.stop();
    const written: string[] = [];
    if (options.png) {
      const pngs = answer.data.explanations.map((e) => e.png).filter((p): p is string => typeof p === 'string');
      for (const [i, png] of pngs.entries()) {
        const file = pngs.length === 1 ? options.png : options.png.replace(/(\.png)?$/i, `-${i + 1}.png`);
        await writeOptionFile('--png', file, Buffer.from(png, 'base64'));
        written.push(file);
      }
    }
    if (options.json) return JSON.stringify(answer, null, 2);
    return [formatExplanation(answer, options.top), ...written.map((f) => `heatmap overlay written to ${f}`)].join('\n');
  } finally {
    bar.stop();
    loader.clear();
  }
}
