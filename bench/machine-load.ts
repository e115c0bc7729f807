/**
 * The 2 cores are shared with whatever else runs on the machine (other test suites,
 * headless browsers). Every run records how much CPU went to processes other than
 * the server and the generator, and the orchestrator waits for a quiet machine
 * before each run (bounded), so that a disturbed run is visible as one.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** Idle machine: the idle server and generator plus noise stay below this (percent of one core). */
export const QUIET_PCT = 15;
/** A failed run during which other processes took more than this (percent of one core) is re-done. */
export const DISTURBED_PCT = 25;

/** CPU seconds spent in user, nice and system mode by the whole machine so far. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0)) / TICKS_PER_SECOND;
}

/**
 * Waits until the machine's CPU use over `sampleMs` is below `maxBusyPct` (percent of
 * one core; our idle server and generator included), for at most `maxWaitMs`.
 * Resolves with the last measured busy percentage and how long it waited.
 */
export async function waitForQuiet(maxBusyPct: number, maxWaitMs: number, sampleMs = 500): Promise<{ busyPct: number; waitedMs: number }> {
  const t0 = performance.now();
  for (;;) {
    const a = machineBusySeconds();
    await new Promise((r) => setTimeout(r, sampleMs));
    const busyPct = Math.round(((machineBusySeconds() - a) / (sampleMs / 1000)) * 100);
    const waitedMs = Math.round(performance.now() - t0);
    if (busyPct <= maxBusyPct || waitedMs >= maxWaitMs) return { busyPct, waitedMs };
  }
}
