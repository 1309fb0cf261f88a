/**
 * The heartbeat of the attempt running a job. Lambda delivers an event at least once: a duplicate
 * may arrive while the job runs, and Lambda runs the event again a minute after a failed invocation
 * (maximumRetryAttempts: 1; the process died, or was stopped at its timeout). The first must leave
 * the job to the attempt running it; the second must take it over. Only the record tells them
 * apart: while it runs the job, its owner renews `heartbeat` (a time) every `heartbeatMs` (which
 * the record also holds, so every delivery judges it by its owner's interval). A delivery that
 * finds the owner's heartbeat younger than STALE_AFTER_BEATS intervals leaves the job; one that
 * finds it older takes the job over. The deadline (deadline.ts) bounds both: a heartbeat never
 * extends it.
 */

/**
 * How often an owner renews its heartbeat unless JOB_HEARTBEAT_MS says otherwise: a read and a
 * conditional write of a small record every 10 s. lib/config.ts allows at most 15 s, so that the
 * staleness limit (45 s at most) stays below the minute Lambda waits before its retry: a retry that
 * found its dead predecessor's heartbeat fresh would leave the job to run out its deadline.
 */
export const HEARTBEAT_MS = 10_000;

/** Renewals an owner may miss (a slow store, a long training step) before its job is taken over. */
const STALE_AFTER_BEATS = 3;

interface Beating {
  status: string;
  heartbeat?: string;
  heartbeatMs?: number;
}

/**
 * A running job whose owner has renewed its heartbeat within the staleness limit. One without a
 * heartbeat (started by a worker from before heartbeats) has nothing that says its owner lives: it
 * is taken over, as every running job was then.
 */
export function isAlive(job: Beating, now = Date.now()): boolean {
  if (job.status !== 'running' || job.heartbeat === undefined) return false;
  return now - Date.parse(job.heartbeat) < STALE_AFTER_BEATS * (job.heartbeatMs ?? HEARTBEAT_MS);
}

/**
 * Calls `renew` every `intervalMs` (each after the last has ended) until stopped, or until `renew`
 * answers false: the job is no longer this attempt's. A renewal that fails (a store error) is
 * reported and the next one tried on time.
 */
export function startHeartbeat(renew: () => Promise<boolean>, intervalMs: number, onError: (error: unknown) => void): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let renewing: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      renewing = renew().then(
        (kept) => (kept ? schedule() : undefined),
        (error) => {
          onError(error);
          schedule();
        },
      );
    }, intervalMs);
    timer.unref(); // a heartbeat never keeps a process (the CLI, a test) alive by itself
  };
  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await renewing;
    },
  };
}
