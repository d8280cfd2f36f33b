/**
 * The soak's subscribers: graphql-ws connections, each following a group of rooms as a client app does
 * (query the room, subscribe from its version, apply events with the SDK's reducer, and after any
 * disconnect subscribe again from the last version applied, on the next instance: a load balancer's
 * round robin). Each follower counts what the contract says never happens: a gap (a version skipped)
 * and a duplicate (a version seen twice). On a gap it reloads the room, so that the final comparison
 * with the server still means something.
 */
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { applyEvent, type Room, type RoomEvent } from '../../src/sdk/apply-event.js';
import { ConflictRoomDocument, ConflictRoomEventsDocument } from '../../src/sdk/generated/graphql.js';
import { sleep } from '../lib/children.js';

const ROOM = print(ConflictRoomDocument);
const EVENTS = print(ConflictRoomEventsDocument);

export interface FollowStats {
  events: number;
  gaps: number;
  duplicates: number;
  snapshots: number;
  reloads: number;
  /** Subscriptions that ended with an error message (a store error). A socket the server closed
   * (1001, on SIGTERM) is a completion to graphql-ws's client: it shows as a reconnect and resumes. */
  subscriptionErrors: number;
  /** Subscriptions opened again from the last version applied (after a disconnect or an error). */
  resumes: number;
  /** Connections opened after the first, and attempts that failed (an instance was down). */
  reconnects: number;
  failedConnects: number;
}

export const emptyStats = (): FollowStats => ({ events: 0, gaps: 0, duplicates: 0, snapshots: 0, reloads: 0, subscriptionErrors: 0, resumes: 0, reconnects: 0, failedConnects: 0 });

export class Follower {
  room: Room | undefined;
  loads = 0;
  subscribes = 0;
  /** Ends the current subscription (a gap: reload, then subscribe again). */
  restart: (() => void) | undefined;
  constructor(
    readonly transactionId: string,
    private readonly stats: FollowStats,
  ) {}

  apply(event: RoomEvent): void {
    const room = this.room;
    if (!room) return;
    if (event.__typename === 'RoomSnapshot') {
      this.stats.snapshots++;
      this.room = event.room;
      return;
    }
    const result = applyEvent(room, event);
    if (result.kind === 'applied') {
      this.stats.events++;
      this.room = result.room;
    } else if (result.kind === 'stale') {
      this.stats.duplicates++;
    } else {
      this.stats.gaps++;
      this.room = undefined;
      this.restart?.();
    }
  }
}

/** One WebSocket (one user) following a group of rooms, reconnecting round robin over `urls`. */
export class FollowerConnection {
  private stopped = false;
  private client: Client | undefined;
  private closed = true;
  private connected = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly userId: string,
    readonly followers: Follower[],
    private readonly urls: string[],
    private nextUrl: number,
    private readonly stats: FollowStats,
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.dispose();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const url = this.urls[this.nextUrl++ % this.urls.length]!;
      let opened = false;
      const closed = new Promise<void>((resolve) => {
        this.client = createClient({
          url,
          webSocketImpl: WebSocket,
          lazy: false,
          retryAttempts: 0,
          onNonLazyError: () => undefined,
          connectionParams: { userId: this.userId, userName: this.userId },
          on: {
            connected: () => {
              opened = true;
              if (this.connected++ > 0) this.stats.reconnects++;
            },
            closed: () => resolve(),
          },
        });
      });
      this.closed = false;
      const client = this.client!;
      const following = this.followers.map((f) => this.follow(client, f));
      await closed;
      this.closed = true;
      if (!opened) this.stats.failedConnects++;
      await client.dispose();
      await Promise.all(following);
      if (!this.stopped) await sleep(opened ? 100 + Math.random() * 200 : 250);
    }
  }

  private async follow(client: Client, follower: Follower): Promise<void> {
    while (!this.stopped && !this.closed) {
      if (!follower.room) {
        try {
          follower.room = await this.query(client, follower.transactionId);
          if (follower.loads++ > 0) this.stats.reloads++;
        } catch {
          await sleep(250);
          continue;
        }
      }
      const room = follower.room;
      if (follower.subscribes++ > 0) this.stats.resumes++;
      await new Promise<void>((resolve) => {
        const unsubscribe = client.subscribe<{ conflictRoomEvents: RoomEvent }>(
          { query: EVENTS, variables: { transactionId: follower.transactionId, afterVersion: room.version, epoch: room.epoch } },
          {
            next: (result) => {
              if (result.data) follower.apply(result.data.conflictRoomEvents);
              else this.stats.subscriptionErrors++;
            },
            error: () => {
              if (!this.stopped) this.stats.subscriptionErrors++;
              resolve();
            },
            complete: () => resolve(),
          },
        );
        follower.restart = () => {
          unsubscribe();
          resolve();
        };
      });
      if (!this.stopped && !this.closed) await sleep(200);
    }
  }

  private async query(client: Client, transactionId: string): Promise<Room> {
    const result = await new Promise<{ data?: { conflictRoom: Room } | null }>((resolve, reject) => {
      let value: { data?: { conflictRoom: Room } | null } | undefined;
      client.subscribe<{ conflictRoom: Room }>(
        { query: ROOM, variables: { transactionId } },
        { next: (v) => (value = v), error: reject, complete: () => (value ? resolve(value) : reject(new Error('no result'))) },
      );
    });
    if (!result.data?.conflictRoom) throw new Error(`no room ${transactionId}`);
    return result.data.conflictRoom;
  }
}
