/**
 * A `modelctl batch` worker's memory budget: 10% over what it held after its first range (model,
 * backend, one range's working set), then over what its last full collection left. V8 alone lets
 * its old generation grow towards its heap limit (GBs) before collecting, which N workers on one
 * machine cannot all do; past the budget the worker collects fully. Not after every range: a full
 * collection also drops the optimized code of functions whose closures are made per range, and
 * recompiling it cost 20% of the scoring time (bench section 12). The budget moves to what a
 * collection leaves (the wasm heap never shrinks), or every range would collect from then on.
 */
const RSS_BUDGET_SLACK = 1.1;

/** Given each range's RSS, calls `collect` (which returns the RSS it leaves) when the budget is passed; says whether it did. */
export function rssBudget(slack = RSS_BUDGET_SLACK): (rss: number, collect: () => number) => boolean {
  let kept: number | undefined;
  return (rss, collect) => {
    kept ??= rss;
    if (rss <= kept * slack) return false;
    kept = collect();
    return true;
  };
}
