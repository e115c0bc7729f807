/**
 * The worker's BrokerHandler when --compat-port is on: one broker serves both protocols,
 * so its answers are routed by connection to the listener holding it, and room traffic
 * goes to both (each publishes it once to its own app's topic; the compat listener only
 * for rooms where it has clients).
 */
import type { BrokerHandler } from '../relay/broker.js';
import type { CompatListener } from './listener.js';

export class ProtocolRouter implements BrokerHandler {
  constructor(
    private readonly flatbuffers: BrokerHandler,
    private readonly compat: CompatListener,
  ) {}

  onPublish(room: string, frame: Uint8Array): void {
    this.flatbuffers.onPublish(room, frame);
    this.compat.onPublish(room, frame);
  }

  onSend(connectionId: string, frame: Uint8Array): void {
    this.holder(connectionId).onSend(connectionId, frame);
  }

  onSendInRoom(connectionId: string, room: string, frame: Uint8Array): void {
    this.holder(connectionId).onSendInRoom(connectionId, room, frame);
  }

  onJoined(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    this.holder(connectionId).onJoined(connectionId, attempt, room, frame);
  }

  onJoinFailed(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    this.holder(connectionId).onJoinFailed(connectionId, attempt, room, frame);
  }

  onRemoved(connectionId: string, room: string, frame: Uint8Array): void {
    this.holder(connectionId).onRemoved(connectionId, room, frame);
  }

  /** A connection that has closed is nobody's: the FlatBuffers server drops what comes for it, as it does for its own. */
  private holder(connectionId: string): BrokerHandler {
    return this.compat.holds(connectionId) ? this.compat : this.flatbuffers;
  }
}
