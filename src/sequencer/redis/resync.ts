/**
 * Getting a node back in step with the cluster, and keeping it there: after its Redis
 * connections come (back) up, after the others took it for dead, or when a room went
 * missing from Redis. A resync renews the heartbeat, subscribes the node's own channel,
 * syncs every room with local members (members put back, the room too if Redis lost
 * it, stale entries removed, the member list and any gap repaired at the sync marker),
 * and takes out of Redis what the node no longer has. One runs at a time; one asked for
 * meanwhile runs after it. One node TTL later an audit syncs every room again, this
 * time also removing members that Redis does not have.
 *
 * The steps themselves belong to the sequencer (they touch its rooms and connections);
 * this part owns when they run and whether the node is available meanwhile.
 */
import type { Logger } from 'pino';

export interface ResyncSteps {
  /** Renews the node's heartbeat (and reaps dead nodes, but not within one TTL of a reconnect: see liveness.ts). */
  heartbeat(): Promise<void>;
  /** Subscribes the node's own channel (private messages for its connections). */
  subscribeNode(): Promise<void>;
  /** Syncs every room with local members (`full`: the audit, which may also remove members); returns how many. */
  syncRooms(full: boolean): Promise<number>;
  /** Takes this node's entries out of the rooms it has no member in any more (they left while Redis was away). */
  dropLeftRooms(): Promise<void>;
  /** Whether both Redis connections are up. */
  connected(): boolean;
  /** `available` changed (the node's health: /readyz, chat_redis_up). */
  availabilityChanged(available: boolean): void;
}

export class ClusterResync {
  private inStep = false;
  private running: Promise<void> | null = null;
  /** A resync was asked for while one ran: run another after it. */
  private again = false;
  private stopped = false;
  private auditTimer: NodeJS.Timeout | null = null;

  /** `auditAfterMs`: one node TTL, by when every live node has synced too (or has been reaped). */
  constructor(
    private readonly steps: ResyncSteps,
    private readonly auditAfterMs: number,
    private readonly log: Logger,
  ) {}

  /** True while both connections are up and every room has been synced since they came up. */
  get available(): boolean {
    return this.inStep;
  }

  /** A connection was lost: nothing is served until a resync is done. Returns whether the node was available. */
  lost(): boolean {
    const was = this.inStep;
    this.setInStep(false);
    return was;
  }

  stop(): void {
    this.stopped = true;
    if (this.auditTimer) clearTimeout(this.auditTimer);
  }

  /**
   * Brings the node back in step. After a lost connection nothing is served meanwhile;
   * when only presence needs repair (`stillServing`: taken for dead) traffic goes on.
   */
  resync(reason: string, stillServing = false): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (!stillServing) this.setInStep(false);
    const run = async (): Promise<void> => {
      await this.steps.heartbeat();
      await this.steps.subscribeNode();
      const rooms = await this.steps.syncRooms(false);
      await this.steps.dropLeftRooms();
      this.setInStep(true);
      this.log.info({ reason, rooms }, 'in step with the cluster');
      if (this.auditTimer) clearTimeout(this.auditTimer);
      this.auditTimer = setTimeout(() => this.audit(), this.auditAfterMs).unref();
    };
    this.running = run()
      .catch((error: unknown) => this.log.warn({ reason, err: (error as Error).message }, 'resync failed; retrying when redis is back'))
      .finally(() => {
        this.running = null;
        const again = this.again;
        this.again = false;
        // Lost again meanwhile, or asked for again while this one ran: the next ready event or this check starts another.
        if ((again || !this.inStep) && this.steps.connected()) this.resync('retry', this.inStep);
      });
  }

  private setInStep(inStep: boolean): void {
    if (inStep === this.inStep) return;
    this.inStep = inStep;
    this.steps.availabilityChanged(inStep);
  }

  /** A second sync of every room, which may now also remove members that Redis does not have. */
  private audit(): void {
    this.auditTimer = null;
    if (!this.inStep) return;
    this.steps.syncRooms(true).then(
      (rooms) => this.log.debug({ rooms }, 'member lists audited'),
      (error: unknown) => this.log.warn({ err: (error as Error).message }, 'member list audit failed; the next resync does it again'),
    );
  }
}
