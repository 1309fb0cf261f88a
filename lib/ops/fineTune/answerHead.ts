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

export function answerHead(model: tfl.LayersModel): tfl.LayersModel {
  if (model.outputs.length === 1) return model;
  const [answer] = inSignatureOrder(model, model.outputs);
  return tfl.model({ inputs: model.inputs, outputs: answer, name: `${model.name}_answer` });
}
