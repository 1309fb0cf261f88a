/** Run as its own process by backend.test.ts: the backend is chosen once per process. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../lib/runtime/backend.js';

const name = await initBackend();
console.log(JSON.stringify({ name, tf: tf.getBackend() }));
