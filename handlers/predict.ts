/**
 * POST /v2/models/{m}[/versions/{v}]/infer (OIP v2), /v1/models/{m}[...]:predict, :classify and :regress (TF Serving) and
 * KServe's v1 /v1/models/{m}[...]:explain, which API Gateway sends here with every POST under /v1/models/;
 * POST /v2/models/{m}[/versions/{v}]/preprocess (what the model would receive).
 */
import { lambdaHandler, type Implementations } from '../lib/api/bind.js';
import { predictRoutes } from '../lib/api/routes/predict.js';
import { modelRefFrom } from '../lib/api/modelRef.js';
import { type AnswerOutput, checkOutputAnswer, fewerOutputsOnInfer, rowsThatFit } from '../lib/ops/outputAnswerSize.js';
import { MAX_BODY_BYTES } from '../lib/http/body.js';
import { predict } from '../lib/ops/predict.js';
import { preprocess, previewPng } from '../lib/ops/preprocess.js';
import { binaryOutputsWanted, binaryResponse, HEADER_LENGTH } from '../lib/protocol/binaryData.js';
import { rawBinaryRequest, rawBodyOf } from '../lib/protocol/rawBinary.js';
import { checkBodyNamesPath, decodeOip, encodeOip, oipResponse, oipTensors } from '../lib/protocol/oip.js';
import { answersRaw, decodeTfServing, encodeTfServing } from '../lib/protocol/tfserving.js';
import { checkVerb, examplesInput, examplesResult, type ExamplesVerb, type TfServingExamplesRequest } from '../lib/protocol/tfServingExamples.js';
import { tfServingAnswerText } from '../lib/protocol/tfServingJson.js';
import { classScores } from '../lib/protocol/answers.js';
import type { Manifest } from '../lib/registry/manifest.js';
import { rowValues, type TensorData } from '../lib/tensors/data.js';
import { answerLimitFor } from '../lib/http/handler.js';
import type { RouteRequest } from '../lib/http/router.js';
import type { Services } from '../lib/services.js';
import type { TimeLimit } from '../lib/runtime/timeLimit.js';
import { answerCheckedAhead, tooLargeAdvice } from '../lib/api/answerAhead.js';

/** The limits of a request answered before the function's timeout, or a 413 naming the figures (runtime/timeLimit.ts). */
const timed = (services: Services, time: TimeLimit | undefined) => ({ ...services.limits, time });

interface ExamplesContext {
  request: RouteRequest;
  params: Record<string, string>;
  body: TfServingExamplesRequest;
  services: Services;
  time: TimeLimit | undefined;
}

/** TF Serving's :classify or :regress: the examples run as :predict runs instances (same encoding, limits and timing). */
const answerExamples =
  (verb: ExamplesVerb) =>
  ({ request, params, body, services, time }: ExamplesContext) =>
    services.loader.withModel(
      modelRefFrom(params),
      async (loaded) => {
        checkVerb(loaded.manifest, verb);
        const input = examplesInput(loaded.manifest, body);
        const [output] = await predict(loaded, input, timed(services, time));
        const answer = verb === 'classify' ? classifyAnswerOutput(loaded.manifest, output) : { data: output.data };
        checkOutputAnswer([answer], body.examples.length, answerLimitFor(request), services.limits.budget, { noun: input.noun });
        return { ...examplesResult(loaded.manifest, output, verb, body.examples.length), noun: input.noun };
      },
      time,
    );

/**
 * :classify writes each class of each example as ["label",score]: what that adds to each value, at
 * least (the shortest label) and at most (the longest, as escaped in the sent JSON; a binary
 * model's one value writes two classes, the second with a score of its own).
 */
function classifyAnswerOutput(manifest: Manifest, output: TensorData): AnswerOutput {
  const rows = output.shape[0] ?? 1;
  const labels = rows > 0 ? classScores(manifest, rowValues(output, 0)).map((c) => c.label) : [];
  const classesPerValue = labels.length / Math.max(1, output.data.length / Math.max(1, rows));
  const escaped = Math.max(0, ...labels.map((l) => 2 * Buffer.byteLength(JSON.stringify(l))));
  return {
    data: output.data,
    leastExtraPerValue: 5 + Math.min(...labels.map((l) => Buffer.byteLength(l))),
    extraPerValue: classesPerValue * (6 + escaped) + (classesPerValue - 1) * 26,
  };
}

/** What a labelled answer adds to each score at most: its label and keys, as escaped in the sent JSON ({"label":"...","score":...}). */
const labelledBytes = (labels: string[] | undefined) => 40 + 2 * Math.max(10, ...(labels ?? []).map((l) => Buffer.byteLength(JSON.stringify(l))));

export const routes: Implementations<typeof predictRoutes> = {
  infer: async ({ request, params, query, body: sent, services, time }) => {
    checkBodyNamesPath(sent, params as { model: string; version?: string });
    const raw = rawBodyOf(sent);
    return services.loader.withModel(
      modelRefFrom(params, query),
      async (loaded) => {
        // A raw binary body (no JSON header) is the request the model's one input makes of it.
        const body = raw ? rawBinaryRequest(loaded.manifest, raw, request.headers['content-type']) : sent;
        const binary = binaryOutputsWanted(body);
        const limit = answerLimitFor(request);
        const answeredIn = (response: ReturnType<typeof oipResponse>) => response.outputs.map((o) => ({ data: o.data, binary: binary(o.name) }));
        const answeredOf = (outputs: TensorData[]) => answeredIn(oipResponse(loaded.manifest, outputs, body));
        const bodyOf = (outputs: TensorData[]) => {
          const response = oipResponse(loaded.manifest, outputs, body);
          return response.outputs.some((o) => binary(o.name)) ? binaryResponse(response, binary).body : JSON.stringify(encodeOip(loaded.manifest, outputs, body));
        };
        const form = { answered: answeredOf, body: bodyOf, model: loaded.name, binaryOnInfer: true, measured: request.source !== 'direct' };
        const outputs = await predict(loaded, decodeOip(loaded.manifest, body), answerCheckedAhead(timed(services, time), limit, form));
        const response = oipResponse(loaded.manifest, outputs, body);
        const rows = outputs[0]?.shape[0] ?? 1;
        const answered = answeredIn(response);
        checkOutputAnswer(answered, rows, limit, services.limits.budget);
        const advice = tooLargeAdvice(answered, rows, limit.bytes, loaded.name, undefined, true);
        if (!response.outputs.some((o) => binary(o.name))) return { body: encodeOip(loaded.manifest, outputs, body), ...advice };
        const { body: bytes, headerLength } = binaryResponse(response, binary);
        return { contentType: 'application/octet-stream', headers: { [HEADER_LENGTH]: String(headerLength) }, body: bytes, ...advice };
      },
      time,
    );
  },

  tfServingPredict: async ({ request, params, body, services, time }) =>
    services.loader.withModel(
      modelRefFrom(params),
      async (loaded) => {
        const input = decodeTfServing(loaded.manifest, body);
        const raw = answersRaw(loaded.manifest, body, input);
        // A regression's answer is its answer output's values, nested as the raw ones: no label beside each.
        const answeredOf = (outputs: TensorData[]): AnswerOutput[] =>
          raw ? outputs : loaded.manifest.task === 'regression' ? [outputs[0]] : [{ data: outputs[0].data, extraPerValue: labelledBytes(loaded.manifest.labels) }];
        const limit = answerLimitFor(request);
        // :predict answers every output: fewer is asked of the route that chooses them.
        const fewer = fewerOutputsOnInfer(loaded.name);
        // Plain arrays are written as tensorflow_model_server writes them (its floats, NaN); labelled answers are ours.
        const encoded = (outputs: TensorData[]) => encodeTfServing(loaded.manifest, outputs, { columnar: input.columnar, raw, topK: body.top_k });
        const rawText = (outputs: TensorData[]) => tfServingAnswerText(outputs, input.columnar, String(loaded.manifest.version));
        const bodyOf = (outputs: TensorData[]) => (raw ? rawText(outputs) : JSON.stringify(encoded(outputs)));
        const form = { answered: answeredOf, body: bodyOf, model: loaded.name, fewer, measured: request.source !== 'direct' };
        const outputs = await predict(loaded, input, answerCheckedAhead(timed(services, time), limit, form));
        const answered = answeredOf(outputs);
        const rows = outputs[0]?.shape[0] ?? 1;
        checkOutputAnswer(answered, rows, limit, services.limits.budget, { fewer });
        return {
          body: encoded(outputs),
          jsonText: raw ? () => rawText(outputs) : undefined,
          ...tooLargeAdvice(answered, rows, limit.bytes, loaded.name, fewer),
        };
      },
      time,
    ),

  tfServingClassify: answerExamples('classify'),
  tfServingRegress: answerExamples('regress'),

  preprocess: async ({ request, params, query, body, services, time }) =>
    services.loader.withModel(
      modelRefFrom(params, query),
      async (loaded) => {
        const tensors = await preprocess(loaded, decodeTfServing(loaded.manifest, body), timed(services, time));
        if (query.format === 'png') return { contentType: 'image/png', body: previewPng(loaded, tensors) };
        const rows = tensors[0]?.shape[0] ?? 1;
        // One instance's model input too large as JSON: fewer instances cannot help; an image is seen as a PNG.
        const oneRow = `one instance's model input alone is too large as JSON${loaded.manifest.transforms.input?.kind === 'image' ? '; ask for it as a PNG (?format=png), as the model sees it' : ''}`;
        checkOutputAnswer(tensors, rows, answerLimitFor(request), services.limits.budget, { oneRow });
        return {
          body: { model_name: loaded.name, model_version: String(loaded.version), outputs: oipTensors(tensors, loaded.manifest.signature.inputs) },
          tooLargeAdvice: (bytes: number) => (rows > 1 ? rowsThatFit(bytes, rows, MAX_BODY_BYTES) : undefined) ?? oneRow,
        };
      },
      time,
    ),

  // Imported on first use: explanations stay off the predict function's cold start.
  explainV1: async ({ request, params, query, body, services, time }) =>
    (await import('../lib/api/explain.js')).answerExplain(services, modelRefFrom(params), body, query.format, request, time),
};

export const handler = lambdaHandler(predictRoutes, routes);
