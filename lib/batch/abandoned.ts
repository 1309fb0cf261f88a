/**
 * What runs through one function left when they died for good: a run's folder (its parts and
 * checkpoint) when its invocation was ended (a timeout, memory) and Lambda's retries failed too,
 * and a claim its holder never let go of. Each live run removes its own folder when it ends; these
 * are removed by the next run of the same file that publishes, once nothing has been written to
 * them for longer than a live run ever goes without writing.
 */
import { listAll, type ObjectStore } from '../store/index.js';

/**
 * A live run writes its checkpoint at the end of every invocation (at most 15 minutes), and its
 * continuation waits at most the 6 hours an asynchronous event is kept, retries included: a day
 * without a write is a run that is gone.
 */
export const ABANDONED_AFTER_MS = 24 * 3_600_000;

/** Under `runsPrefix`: each run's folder, and each claim, whose newest object is older than ABANDONED_AFTER_MS. */
export async function removeAbandoned(store: ObjectStore, runsPrefix: string, now = Date.now()): Promise<void> {
  const groups = new Map<string, { keys: string[]; newest: number }>();
  for await (const object of listAll(store, runsPrefix)) {
    const [first, ...rest] = object.key.slice(runsPrefix.length).split('/');
    // A run's folder goes whole or not at all; a claim is a group of its own.
    const name = rest.length > 0 ? first : object.key;
    const group = groups.get(name) ?? { keys: [], newest: 0 };
    group.keys.push(object.key);
    // A store that gives no time: taken as written now, so kept.
    group.newest = Math.max(group.newest, object.lastModified?.getTime() ?? now);
    groups.set(name, group);
  }
  const gone = [...groups.values()].filter((group) => group.newest < now - ABANDONED_AFTER_MS);
  await Promise.all(gone.flatMap((group) => group.keys).map((key) => store.delete(key)));
}
