/**
 * A claim: one holder at a time for a piece of work, as a create-only object in the store naming
 * the holder and until when it holds. A run through one function publishes its file's outputs
 * holding one (run.ts), so of two runs of one upload at once (S3 delivers an event at least once)
 * only one writes them. A holder that died before it let go (Lambda ended its invocation) holds
 * only until its time is up: then the claim is taken over, by a replace-only write of the very
 * version read, so of two runs taking it over one does. The holder's own retry (the same run,
 * Lambda retrying its invocation) takes it again at once.
 */
import { ConflictError } from '../errors.js';
import { getJsonVersioned, ObjectChangedError, type ObjectStore } from '../store/index.js';

interface Claim {
  holder: string;
  /** An ISO time: the claim is void after it. */
  until: string;
}

export type Claimed<T> = { held: true; value: T } | { held: false };

/**
 * Runs `work` holding the claim at `key`, then lets it go (whether `work` succeeded or threw); or,
 * when another holder has it, does nothing.
 */
export async function withClaim<T>(store: ObjectStore, key: string, holder: string, untilMs: number, work: () => Promise<T>): Promise<Claimed<T>> {
  if (!(await take(store, key, { holder, until: new Date(untilMs).toISOString() }))) return { held: false };
  let value: T;
  try {
    value = await work();
  } catch (error) {
    // The work's error, not a failure to let go: a claim left behind is void at its time anyway.
    await store.delete(key).catch(() => undefined);
    throw error;
  }
  await store.delete(key);
  return { held: true, value };
}

async function take(store: ObjectStore, key: string, claim: Claim): Promise<boolean> {
  const body = JSON.stringify(claim);
  // A claim let go between the create-only write and the read is tried for again; a few times.
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      await store.put(key, body, { ifNoneMatch: true, contentType: 'application/json' });
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
    const current = await getJsonVersioned<Claim>(store, key);
    if (!current) continue;
    if (current.value.holder === claim.holder) return true;
    // Date.parse of something that is no time is NaN: such a claim is void too.
    if (Date.parse(current.value.until) > Date.now()) return false;
    try {
      await store.put(key, body, { ifMatch: current.etag, contentType: 'application/json' });
      return true;
    } catch (error) {
      // Another taker replaced (or let go of) the void claim first: it is theirs.
      if (error instanceof ObjectChangedError) return false;
      throw error;
    }
  }
  return false;
}

/** The claim at `key` while it holds (its holder and until when), or undefined. */
export async function heldBy(store: ObjectStore, key: string): Promise<Claim | undefined> {
  const current = await getJsonVersioned<Claim>(store, key);
  return current && Date.parse(current.value.until) > Date.now() ? current.value : undefined;
}

/**
 * Runs `work` holding the claim at `key` for work of no known length (a `modelctl batch` run):
 * taken for `leaseMs` and renewed every third of it while the work runs, so that a holder that
 * died (killed, its machine off) holds it `leaseMs` at most; let go at the end, whether the work
 * succeeded or threw. When another holds it, does nothing.
 */
export async function whileClaimed<T>(store: ObjectStore, key: string, holder: string, leaseMs: number, work: () => Promise<T>): Promise<Claimed<T>> {
  const lease = () => ({ holder, until: new Date(Date.now() + leaseMs).toISOString() });
  if (!(await take(store, key, lease()))) return { held: false };
  const renewal = setInterval(() => {
    // A renewal the store refused now is tried again at the next; the lease outlasts two of them.
    void renew(store, key, holder, lease()).catch(() => undefined);
  }, leaseMs / 3);
  renewal.unref();
  try {
    return { held: true, value: await work() };
  } finally {
    clearInterval(renewal);
    await letGo(store, key, (name) => name === holder).catch(() => undefined);
  }
}

/**
 * Deletes the claim at `key` if its holder is `mine`, by a delete of the version read: one taken over
 * meanwhile (this holder paused past its lease, a laptop asleep) is the new holder's, not removed.
 */
export async function letGo(store: ObjectStore, key: string, mine: (holder: string) => boolean): Promise<void> {
  const current = await getJsonVersioned<Claim>(store, key);
  if (current && mine(current.value.holder)) await store.delete(key, { ifMatch: current.etag });
}

/** The claim moved on to a later time, by a replace-only write of the version read, while this holder has it. */
async function renew(store: ObjectStore, key: string, holder: string, claim: Claim): Promise<void> {
  const current = await getJsonVersioned<Claim>(store, key);
  if (current?.value.holder !== holder) return;
  await store.put(key, JSON.stringify(claim), { ifMatch: current.etag, contentType: 'application/json' });
}
