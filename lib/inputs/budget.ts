/**
 * The memory budget as the input kinds see it: what encoding natural instances may take, checked
 * before it is taken. Defined here, not imported from runtime/memory.ts (whose MemoryBudget fits
 * it), so that inputs/ depends on nothing above it.
 */
import { PayloadTooLargeError } from '../errors.js';

/** The memory an operation may take now (runtime/memory.ts's MemoryBudget), its figures in words, and the function size (MB) `bytes` would fit in. */
export interface EncodeBudget {
  available(): number;
  /** What is available when `bytes` are needed, measured again after a garbage collection when they are not there (before a refusal). */
  availableFor(bytes: number): number;
  /** What a later request can count on, for a refusal that names the largest one that fits (a fresh measure may be a little higher). */
  promisable(): number;
  describe(): string;
  /** What would give `bytes`, for a refusal: "a function of at least N MB (serverless.yml's memorySize; ...)", or the job worker's setting, or a fixed budget's. */
  largerSettingFor(bytes: number): string;
}

/**
 * What the work that takes encoded rows holds besides them at its peak: for predict, a forward pass
 * through the model (one call's working memory, each row's outputs). Counted with the rows, so the
 * number of instances a 413 says fit can be encoded and then run: counted without it, that many
 * filled the budget once encoded, and the pass after them was refused.
 */
export interface RunNeed {
  /** Bytes once, whatever the number of rows (one model call). */
  perCall: number;
  /** Bytes per row besides its model input. */
  perRow: number;
  /** The work in a refusal's words, `{them}` where the instances are named: "running the model on {them}". */
  what: string;
}

/**
 * One instance needs more memory to encode than the function has (a large photo): a 413 like any
 * other, told apart so that batch scoring reports it as its row's problem instead of failing the file.
 */
export class InstanceTooLargeError extends PayloadTooLargeError {
  constructor(message: string) {
    super(message);
    // Named as its kind: the batch state machine's Catch (serverless.yml) and the failure step match errors by name.
    this.name = 'PayloadTooLargeError';
  }
}

/**
 * More natural instances than fit the budget at once, told apart so that work with a limit of its
 * own on the instances (explain's answer size) can name the count both allow: `fit` instances fit
 * (0: not even one).
 */
export class TooManyInstancesError extends PayloadTooLargeError {
  constructor(
    message: string,
    readonly fit: number,
  ) {
    super(message);
    this.name = 'PayloadTooLargeError';
  }
}
