/**
 * A room that stays equal to the server's, for apps that do not want to know the protocol.
 *
 *   const rooms = createRoomClient({ url: 'ws://localhost:4000/graphql', connectionParams: { userId: 'alice' } });
 *   const room = await rooms.joinRoom('tx-1', { userName: 'Alice' });
 *   room.onChange((state) => render(state));
 *   await room.select('price', '45000');
 *
 * It loads the room with one query, subscribes from the version it loaded, applies events in order,
 * drops duplicates, reloads on a gap, and after every reconnect resumes from the last version applied.
 * Framework-free: it runs wherever graphql-ws's client runs (browsers, Node with `ws`, React Native).
 */
import { print } from 'graphql';
import { type Client, type ClientOptions, createClient } from 'graphql-ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { applyEvent, type Room, type RoomEvent } from './apply-event.js';
import {
  ClearFieldDocument,
  ConflictRoomDocument,
  ConflictRoomEventsDocument,
  JoinConflictRoomDocument,
  LeaveConflictRoomDocument,
  SelectFieldDocument,
  SetReadyDocument,
} from './generated/graphql.js';

export type { Room, RoomEvent };

export type RoomClientOptions =
  /** A graphql-ws client you made (and dispose). */
  | { client: Client }
  /** Or what the SDK needs to make one: it reconnects forever, with backoff, and `dispose()` closes it. */
  | ({ url: string } & Partial<Pick<ClientOptions, 'connectionParams' | 'webSocketImpl' | 'retryWait'>>);

export interface RoomHandle {
  /** The room as the server has it, as of the last event applied. */
  readonly state: Room;
  /** Called after every change of `state`, with the event that caused it (none after a reload). */
  onChange(listener: (state: Room, event?: RoomEvent) => void): () => void;
  /** Select a value. Safe to retry: each call carries its own requestId. */
  select(field: string, value: string, options?: { expectedVersion?: number }): Promise<Room>;
  clear(field: string, options?: { expectedVersion?: number }): Promise<Room>;
  setReady(isReady: boolean): Promise<Room>;
  /** Leaves the room (your selections stay) and stops following it. */
  leave(): Promise<Room>;
  /** Stops following the room; the room itself is untouched. */
  close(): void;
}

export interface RoomClient {
  /** Joins (or rejoins) the room and follows it. */
  joinRoom(transactionId: string, options?: { userName?: string }): Promise<RoomHandle>;
  /** Follows a room without joining (a watcher: no presence, no changes). */
  watchRoom(transactionId: string): Promise<RoomHandle>;
  /** Closes the connection if the SDK made it. */
  dispose(): Promise<void>;
}

/** Runs one query or mutation over the socket; rejects with the GraphQL errors' first message (and `errors`). */
export function execute<R, V extends Record<string, unknown>>(client: Client, document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
  return new Promise((resolve, reject) => {
    let result: R | undefined;
    client.subscribe<R>(
      { query: print(document), variables },
      {
        next: (value) => {
          if (value.errors?.length) {
            reject(Object.assign(new Error(value.errors[0]!.message), { errors: value.errors }));
          } else result = value.data as R;
        },
        error: reject,
        complete: () => (result === undefined ? reject(new Error('no result')) : resolve(result)),
      },
    );
  });
}

const newRequestId = () => globalThis.crypto.randomUUID();

export function createRoomClient(options: RoomClientOptions): RoomClient {
  const owned = !('client' in options);
  const client =
    'client' in options
      ? options.client
      : createClient({
          url: options.url,
          ...(options.connectionParams ? { connectionParams: options.connectionParams } : {}),
          ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
          ...(options.retryWait ? { retryWait: options.retryWait } : {}),
          lazy: false,
          retryAttempts: Number.POSITIVE_INFINITY,
          shouldRetry: () => true,
        });

  async function follow(transactionId: string, initial: Room): Promise<RoomHandle> {
    let state = initial;
    let closed = false;
    let stopEvents: (() => void) | undefined;
    const listeners = new Set<(state: Room, event?: RoomEvent) => void>();
    const emit = (event?: RoomEvent) => listeners.forEach((listener) => listener(state, event));

    const subscribe = () => {
      stopEvents?.();
      stopEvents = client.subscribe(
        { query: print(ConflictRoomEventsDocument), variables: { transactionId, afterVersion: state.version, epoch: state.epoch } },
        {
          next: (result) => {
            const event = (result.data as { conflictRoomEvents?: RoomEvent } | null | undefined)?.conflictRoomEvents;
            if (event) receive(event);
          },
          error: () => undefined, // the socket's own retries and the reconnect handler below resume
          complete: () => undefined,
        },
      );
    };
    const receive = (event: RoomEvent) => {
      const outcome = applyEvent(state, event);
      if (outcome.kind === 'stale') return;
      if (outcome.kind === 'gap') return void reload();
      state = outcome.room;
      emit(event);
    };
    /** Takes a mutation's result when it is ahead of what the events brought so far. */
    const adopt = (room: Room) => {
      if (room.epoch === state.epoch && room.version <= state.version) return state;
      state = room;
      emit();
      return state;
    };
    const reload = async () => {
      const { conflictRoom } = await execute(client, ConflictRoomDocument, { transactionId });
      if (closed) return;
      state = conflictRoom;
      emit();
      subscribe();
    };
    // After the socket comes back, follow from the last version applied, not from where we started.
    let connections = 0;
    const offConnected = client.on('connected', () => {
      if (++connections > 1 && !closed) subscribe();
    });
    subscribe();

    const close = () => {
      closed = true;
      offConnected();
      stopEvents?.();
      listeners.clear();
    };
    return {
      get state() {
        return state;
      },
      onChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      select: async (field, value, opts = {}) =>
        adopt((await execute(client, SelectFieldDocument, { transactionId, field, value, expectedVersion: opts.expectedVersion ?? null, requestId: newRequestId() })).selectField),
      clear: async (field, opts = {}) =>
        adopt((await execute(client, ClearFieldDocument, { transactionId, field, expectedVersion: opts.expectedVersion ?? null, requestId: newRequestId() })).clearField),
      setReady: async (isReady) => adopt((await execute(client, SetReadyDocument, { transactionId, isReady, requestId: newRequestId() })).setReady),
      leave: async () => {
        const { leaveConflictRoom } = await execute(client, LeaveConflictRoomDocument, { transactionId });
        close();
        return leaveConflictRoom;
      },
      close,
    };
  }

  return {
    async joinRoom(transactionId, opts = {}) {
      const { joinConflictRoom } = await execute(client, JoinConflictRoomDocument, { transactionId, userName: opts.userName ?? null });
      return follow(transactionId, joinConflictRoom);
    },
    async watchRoom(transactionId) {
      const { conflictRoom } = await execute(client, ConflictRoomDocument, { transactionId });
      return follow(transactionId, conflictRoom);
    },
    async dispose() {
      if (owned) await client.dispose();
    },
  };
}
