/**
 * What a fine-tune trains: the model as a function of the one output its answers read. fit() takes
 * one target per output, and a fine-tune's labels are the answers' labels, of that output alone: a
 * model with several outputs (a face model's gender, age and descriptor) is trained through a view
 * of it ending in that output (the first of its manifest's signature: --output). The view's layers
 * are the model's own, so training it trains the model, which is then saved whole, every output
 * kept (the others move only as far as the layers they share with the trained one).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { inSignatureOrder } from '../../runtime/tfModel.js';

/** By view: the model it is of, and the output it ends in (a layer off its path is named as such: train.ts). */
const views = new WeakMap<tfl.LayersModel, { whole: tfl.LayersModel; output: string }>();
/**
 * By model: its view, one for as long as the model lives, so what is measured on the view stays
 * known (budget.ts's step costs, by model: a new view each request measured a training step each time).
 */
const viewOf = new WeakMap<tfl.LayersModel, tfl.LayersModel>();

export function answerHead(model: tfl.LayersModel): tfl.LayersModel {
  if (model.outputs.length === 1) return model;
  const known = viewOf.get(model);
  if (known) return known;
  const [answer] = inSignatureOrder(model, model.outputs);
  const view = tfl.model({ inputs: model.inputs, outputs: answer, name: `${model.name}_answer` });
  views.set(view, { whole: model, output: answer.sourceLayer.name });
  viewOf.set(model, view);
  return view;
}

/** Of a view answerHead made: the whole model's layers not on the path to the trained output, and that output. */
export function offPath(view: tfl.LayersModel): { layers: string[]; output: string } | undefined {
  const of = views.get(view);
  if (!of) return undefined;
  const on = new Set(view.layers.map((l) => l.name));
  return { layers: of.whole.layers.map((l) => l.name).filter((name) => !on.has(name)), output: of.output };
}
