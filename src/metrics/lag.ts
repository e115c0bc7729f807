/** Event-loop lag of the current thread over fixed windows (the last complete one is reported). */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export const LAG_WINDOW_MS = 5000;

export interface LagWindow {
  readonly p99Seconds: number;
  readonly maxSeconds: number;
}

export class LagMonitor {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly timer: NodeJS.Timeout;
  private last: LagWindow = { p99Seconds: 0, maxSeconds: 0 };

  constructor() {
    this.histogram.enable();
    this.timer = setInterval(() => this.roll(), LAG_WINDOW_MS).unref();
  }

  /** The last complete window (zeros during the first). */
  window(): LagWindow {
    return this.last;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  private roll(): void {
    const h = this.histogram;
    // Without samples (an idle loop at start) the histogram reports NaN/huge values.
    this.last = h.count > 0 ? { p99Seconds: h.percentile(99) / 1e9, maxSeconds: h.max / 1e9 } : { p99Seconds: 0, maxSeconds: 0 };
    h.reset();
  }
}
