/**
 * Every HTTP function's handler in one bundle, for the soak (bench/soak.ts). Built with the same
 * esbuild configuration as the Lambdas; one bundle, because separate bundles in one process would
 * each bring their own TF.js layers, whose variable names collide in the engine they share.
 * Each handler still builds its own services (its own model cache), as its Lambda would.
 */
export { handler as predict } from '../../handlers/predict.js';
export { handler as metadata } from '../../handlers/metadata.js';
export { handler as explain } from '../../handlers/explain.js';
export { handler as evaluate } from '../../handlers/evaluate.js';
export { handler as evaluations } from '../../handlers/evaluations.js';
export { handler as fineTune } from '../../handlers/fineTune.js';
