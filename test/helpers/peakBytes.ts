/**
 * The most tensor bytes alive at once while `run` runs, above what was alive when it began: every
 * tensor made is seen (the engine's trackTensor), so work that itself runs under tf.profile (a
 * fine-tune job measures its training step) does not cut the count short as a nested profile would.
 */
import * as tf from '@tensorflow/tfjs-core';

type Tracking = { trackTensor: (...args: unknown[]) => void; state: { numBytes: number } };

export async function peakBytesOf<T>(run: () => Promise<T>): Promise<{ result: T; peak: number }> {
  const engine = tf.engine() as unknown as Tracking;
  const start = engine.state.numBytes;
  let top = start;
  const own = engine.trackTensor;
  engine.trackTensor = function (this: Tracking, ...args: unknown[]) {
    own.apply(this, args);
    top = Math.max(top, engine.state.numBytes);
  };
  try {
    return { result: await run(), peak: top - start };
  } finally {
    delete (engine as Partial<Tracking>).trackTensor;
  }
}
