/**
 * Costs measured on a model, by a key the request decides (its rows' shape, the layers it trains),
 * kept for as long as the model is (a WeakMap on it). Requests choose the keys: a model with free
 * input dimensions sees as many row shapes as its callers send, and a fine-tune as many lists of
 * layer names. So each model keeps the costs of its most recently used keys only, at most
 * MEASURED_KEYS_PER_MODEL; a key dropped is measured again when it comes back (one row's pass, or
 * one training step), which is what its first use cost.
 */

/** A model with fixed input shapes uses one or two keys (forward, gradient); one with free dimensions, a few image sizes. */
export const MEASURED_KEYS_PER_MODEL = 64;

export class MeasuredCosts<T> {
  private readonly byModel = new WeakMap<object, Map<string, T>>();

  constructor(private readonly limit = MEASURED_KEYS_PER_MODEL) {}

  get(model: object, key: string): T | undefined {
    const costs = this.byModel.get(model);
    const cost = costs?.get(key);
    if (costs && cost !== undefined) {
      // Re-insert: Map order is the order of use, oldest first.
      costs.delete(key);
      costs.set(key, cost);
    }
    return cost;
  }

  /** Every key's cost kept for `model`, oldest use first (reading them is no use). */
  entries(model: object): [string, T][] {
    return [...(this.byModel.get(model)?.entries() ?? [])];
  }

  set(model: object, key: string, cost: T): void {
    let costs = this.byModel.get(model);
    if (!costs) {
      costs = new Map();
      this.byModel.set(model, costs);
    }
    costs.delete(key);
    costs.set(key, cost);
    for (const oldest of costs.keys()) {
      if (costs.size <= this.limit) break;
      costs.delete(oldest);
    }
  }
}
