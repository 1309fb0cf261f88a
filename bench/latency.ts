/**
 * Handler latency against raw model.predict, in this process, with the handler's source (not the
 * bundle). Each round runs, in rotating order: the whole handler on a direct invocation; the raw
 * baseline (the same rows already as a tensor: tidy(predict) + data()); and each stage of the
 * handler on its own, so that an overhead can be traced to the code that causes it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { encodeInstances, inputTensors, type ModelInput } from '../lib/inputs/encode.js';
import type { LoadedModel } from '../lib/loader/index.js';
import { runModel } from '../lib/ops/runModel.js';
import { binaryOutputsWanted, binaryResponse, readBinaryRequest } from '../lib/protocol/binaryData.js';
import { decodeOip, encodeOip, oipInferRequest, oipResponse } from '../lib/protocol/oip.js';
import { answersRaw, decodeTfServing, encodeTfServing, tfServingPredictRequest } from '../lib/protocol/tfserving.js';
import { parseModelRef } from '../lib/registry/index.js';
import type { TensorData } from '../lib/tensors/data.js';
import { eventOf, type PredictCase } from './requests.js';
import { benchPredictHandler, benchServices } from './services.js';
import { compare, round, summarize, type Task } from './stats.js';

export interface LatencyRow {
  model: string;
  batch: number;
  iterations: number;
  handlerP50: number;
  handlerP99: number;
  rawP50: number;
  rawP99: number;
  /** handlerP50 / rawP50. */
  ratio: number;
  /**
   * p50 of each stage run alone (ms): the http wrapper with an empty route, the loader's withModel,
   * zod, protocol decode, input transform, runModel, answer encoding. `rest` is the handler's p50
   * minus their sum (what no stage explains; near 0 when the list is complete).
   */
  stages: Record<string, number>;
  /** Tensors left behind by the measured calls (should be 0). */
  leakedTensors: number;
}

type Handler = (event: unknown) => Promise<{ statusCode: number; body: unknown }>;

function rawPredict(loaded: LoadedModel, x: tf.Tensor): Task {
  const model = loaded.model as { predict(x: tf.Tensor): tf.Tensor };
  return async () => {
    const y = tf.tidy(() => model.predict(x));
    try {
      await y.data();
    } finally {
      y.dispose();
    }
  };
}

let emptyHandlerPromise: Promise<Handler> | undefined;

/** The shared Lambda wrapper (event adapter, router, logger, metrics, reply) around routes that do nothing. */
function emptyHandler(): Promise<Handler> {
  emptyHandlerPromise ??= Promise.all([import('../lib/http/handler.js'), import('../lib/api/route.js')]).then(([{ httpHandler }, { versioned }]) => {
    const paths = [...versioned('/v2/models/{model}', '/infer'), ...versioned('/v1/models/{model}', ':predict', { labels: true })];
    return httpHandler(paths.map((path) => ({ method: 'POST', path, handle: async () => ({ body: {} }) }))) as Handler;
  });
  return emptyHandlerPromise;
}

/** The handler's steps, each from the previous one's output computed once up front. */
async function stageTasks(loaded: LoadedModel, c: PredictCase): Promise<Record<string, Task>> {
  const { manifest } = loaded;
  const { loader, limits } = await benchServices();
  const wrapper = await emptyHandler();
  const event = eventOf(c);
  const ref = parseModelRef(c.model);
  const tasks: Record<string, Task> = {
    'http wrapper': () => wrapper(event),
    withModel: () => loader.withModel(ref, () => undefined),
  };
  let plan: ModelInput;
  let encode: (outputs: TensorData[]) => unknown;
  if (c.protocol === 'oip-binary' && c.binary) {
    const { bytes, headerLength } = c.binary;
    const read = () => readBinaryRequest(Buffer.from(Buffer.from(bytes).toString('base64'), 'base64'), String(headerLength));
    const parsed = oipInferRequest.parse(read());
    plan = decodeOip(manifest, parsed);
    tasks['zod parse'] = async () => oipInferRequest.parse(read());
    tasks.decode = async () => decodeOip(manifest, parsed);
    encode = (outputs) => binaryResponse(oipResponse(manifest, outputs, parsed), binaryOutputsWanted(parsed));
  } else if (c.protocol === 'oip') {
    const parsed = oipInferRequest.parse(c.body);
    plan = decodeOip(manifest, parsed);
    tasks['zod parse'] = async () => oipInferRequest.parse(c.body);
    tasks.decode = async () => decodeOip(manifest, parsed);
    encode = (outputs) => encodeOip(manifest, outputs, parsed);
  } else {
    const parsed = tfServingPredictRequest.parse(c.body);
    const decoded = decodeTfServing(manifest, parsed);
    plan = decoded;
    tasks['zod parse'] = async () => tfServingPredictRequest.parse(c.body);
    tasks.decode = async () => decodeTfServing(manifest, parsed);
    const options = { columnar: decoded.columnar, raw: answersRaw(manifest, parsed, decoded), topK: parsed.top_k };
    encode = (outputs) => encodeTfServing(manifest, outputs, options);
  }
  const tensors = await inputTensors(manifest, plan, limits.budget);
  const outputs = await runModel(loaded, tensors, limits);
  if (plan.kind === 'instances') {
    const { instances } = plan;
    tasks['encode natural'] = async () => encodeInstances(manifest, instances, limits.budget);
  }
  tasks.runModel = () => runModel(loaded, tensors, limits);
  tasks['encode answer'] = async () => encode(outputs);
  return tasks;
}

function withRest(handlerP50: number, stages: Record<string, number>): Record<string, number> {
  const sum = Object.values(stages).reduce((a, b) => a + b, 0);
  return Object.fromEntries([...Object.entries(stages), ['rest', handlerP50 - sum]].map(([k, v]) => [k, round(v as number)]));
}

export async function measureLatency(c: PredictCase, options: { warmup: number; iterations: number }): Promise<LatencyRow> {
  const handler = (await benchPredictHandler()) as Handler;
  const event = eventOf(c);
  const first = await handler(event);
  if (first.statusCode !== 200) throw new Error(`${c.label} batch ${c.batch}: handler answered ${first.statusCode} ${JSON.stringify(first.body).slice(0, 300)}`);
  return (await benchServices()).loader.withModel(parseModelRef(c.model), async (loaded) => {
    const x = tf.tensor(c.tensor.data, c.tensor.shape, 'float32');
    try {
      const stages = await stageTasks(loaded, c);
      const tensorsBefore = tf.memory().numTensors;
      const samples = await compare(
        {
          handler: async () => {
            const answer = await handler(event);
            if (answer.statusCode !== 200) throw new Error(`handler answered ${answer.statusCode}`);
          },
          raw: rawPredict(loaded, x),
          ...stages,
        },
        options,
      );
      const leakedTensors = tf.memory().numTensors - tensorsBefore;
      const h = summarize(samples.handler);
      const r = summarize(samples.raw);
      return {
        model: c.label,
        batch: c.batch,
        iterations: options.iterations,
        handlerP50: round(h.p50),
        handlerP99: round(h.p99),
        rawP50: round(r.p50),
        rawP99: round(r.p99),
        ratio: round(h.p50 / r.p50, 2),
        stages: withRest(h.p50, Object.fromEntries(Object.keys(stages).map((name) => [name, summarize(samples[name]).p50]))),
        leakedTensors,
      };
    } finally {
      x.dispose();
    }
  });
}
