/** Run as its own process by backend.test.ts: the backend is chosen once per process, as the services configure it. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../lib/runtime/backend.js';
import { createServices } from '../../lib/services.js';

createServices(); // reads TFJS_BACKEND and TFJS_WASM_DIR, as a handler's cold start does
const name = await initBackend();
console.log(JSON.stringify({ name, tf: tf.getBackend() }));
