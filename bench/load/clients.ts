/**
 * One small client adapter per target, so every load generator drives the three servers with the
 * same workload:
 *   service   conflict-rooms: graphql-ws (mutations over the same socket), conflictRoom over HTTP POST
 *   ws        the bare ws reference server: JSON messages
 *   socketio  the Socket.IO + Redis reference server: socket.io-client, websocket transport
 *   socketio-plain  the same server with SOCKETIO_PLAIN=1 (HSET + emit), same client
 */
import { Agent, request } from 'node:http';
import { type Client, createClient } from 'graphql-ws';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { withTimeout } from './ipc.js';

export type TargetKind = 'ws' | 'service' | 'socketio' | 'socketio-plain';

export interface TargetInfo {
  kind: TargetKind;
  port: number;
}

export interface User {
  userId: string;
  userName?: string;
}

/** One event as a subscriber sees it. value is set for selections. */
export interface RoomEvent {
  type: string;
  version: number;
  value?: string;
}

export interface Connection {
  join(room: string, userName?: string): Promise<void>;
  /** Resolves to the room version of the selection (the ack). */
  select(room: string, field: string, value: string): Promise<number>;
  /** Resolves once the subscribe request is sent (and acknowledged, where the target acknowledges). */
  subscribe(room: string, afterVersion: number | undefined, onEvent: (event: RoomEvent) => void, onError?: (error: unknown) => void): Promise<void>;
  close(): void;
}

const ACK_TIMEOUT_MS = 15_000;

export const SELECT_MUTATION = /* GraphQL */ `
  mutation Select($tx: ID!, $field: String!, $value: String!) {
    selectField(transactionId: $tx, field: $field, value: $value) { version }
  }`;
export const JOIN_MUTATION = /* GraphQL */ `
  mutation Join($tx: ID!, $name: String) {
    joinConflictRoom(transactionId: $tx, userName: $name) { version }
  }`;
export const EVENTS_SUBSCRIPTION = /* GraphQL */ `
  subscription Events($tx: ID!, $after: Int) {
    conflictRoomEvents(transactionId: $tx, afterVersion: $after) {
      __typename version
      ... on FieldSelected { selection { field value } }
    }
  }`;
export const ROOM_QUERY = /* GraphQL */ `
  query Room($tx: ID!) {
    conflictRoom(transactionId: $tx) { version selections { field value } participants { userId } }
  }`;

export async function connect(target: TargetInfo, user: User): Promise<Connection> {
  switch (target.kind) {
    case 'service':
      return connectService(target.port, user);
    case 'ws':
      return connectWs(target.port, user);
    case 'socketio':
    case 'socketio-plain':
      return connectSocketIo(target.port, user);
  }
}

// ---- conflict-rooms over graphql-ws --------------------------------------------------------------

async function connectService(port: number, user: User): Promise<Connection> {
  let client!: Client;
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client = createClient({
        url: `ws://127.0.0.1:${port}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { userId: user.userId, userName: user.userName ?? user.userId },
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: reject,
        on: { connected: () => resolve() },
      });
    }),
    ACK_TIMEOUT_MS,
    'graphql-ws connect',
  );

  const execute = <T>(query: string, variables: Record<string, unknown>): Promise<T> =>
    withTimeout(
      new Promise<T>((resolve, reject) => {
        let result: { data?: unknown; errors?: unknown[] } | undefined;
        client.subscribe(
          { query, variables },
          {
            next: (value) => {
              result = value as typeof result;
            },
            error: reject,
            complete: () => {
              if (!result) reject(new Error('no result'));
              else if (result.errors?.length) reject(new Error(JSON.stringify(result.errors)));
              else resolve(result.data as T);
            },
          },
        );
      }),
      ACK_TIMEOUT_MS,
      'graphql-ws operation',
    );

  return {
    async join(room, userName) {
      await execute(JOIN_MUTATION, { tx: room, name: userName ?? user.userName ?? user.userId });
    },
    async select(room, field, value) {
      const data = await execute<{ selectField: { version: number } }>(SELECT_MUTATION, { tx: room, field, value });
      return data.selectField.version;
    },
    async subscribe(room, afterVersion, onEvent, onError) {
      client.subscribe(
        { query: EVENTS_SUBSCRIPTION, variables: afterVersion === undefined ? { tx: room } : { tx: room, after: afterVersion } },
        {
          next: (result) => {
            const event = (result.data as { conflictRoomEvents?: { __typename: string; version: number; selection?: { value: string } } } | null)
              ?.conflictRoomEvents;
            if (event) onEvent({ type: event.__typename, version: event.version, value: event.selection?.value });
            else onError?.(new Error(JSON.stringify(result.errors)));
          },
          error: (error) => onError?.(error),
          complete: () => undefined,
        },
      );
    },
    close() {
      void client.dispose();
    },
  };
}

// ---- bare ws -------------------------------------------------------------------------------------

async function connectWs(port: number, user: User): Promise<Connection> {
  const query = new URLSearchParams({ userId: user.userId, userName: user.userName ?? user.userId });
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?${query}`);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    ACK_TIMEOUT_MS,
    'ws connect',
  );
  let nextId = 1;
  const pending = new Map<number, { resolve(version: number): void; reject(error: Error): void }>();
  const handlers = new Map<string, (event: RoomEvent) => void>();
  socket.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as { type: string; id?: number; room?: string; version?: number; value?: string; message?: string };
    if (msg.type === 'selected') {
      handlers.get(msg.room!)?.({ type: 'selected', version: msg.version!, value: msg.value });
    } else if (msg.id !== undefined) {
      const waiter = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.type === 'ack') waiter?.resolve(msg.version!);
      else waiter?.reject(new Error(msg.message ?? 'error'));
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    for (const [, waiter] of pending) waiter.reject(new Error('socket closed'));
    pending.clear();
  });
  const send = (message: Record<string, unknown>) =>
    withTimeout(
      new Promise<number>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        socket.send(JSON.stringify({ ...message, id }));
      }),
      ACK_TIMEOUT_MS,
      `ws ${String(message.type)}`,
    );
  return {
    async join(room, userName) {
      await send({ type: 'join', room, userName: userName ?? user.userName });
    },
    select: (room, field, value) => send({ type: 'select', room, field, value }),
    async subscribe(room, afterVersion, onEvent) {
      handlers.set(room, onEvent);
      await send(afterVersion === undefined ? { type: 'subscribe', room } : { type: 'subscribe', room, afterVersion });
    },
    close() {
      socket.close();
    },
  };
}

// ---- Socket.IO -----------------------------------------------------------------------------------

async function connectSocketIo(port: number, user: User): Promise<Connection> {
  const socket: Socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: { userId: user.userId, userName: user.userName ?? user.userId },
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    }),
    ACK_TIMEOUT_MS,
    'socket.io connect',
  );
  const handlers = new Map<string, (event: RoomEvent) => void>();
  socket.on('selected', (msg: { room: string; version: number; value: string }) => {
    handlers.get(msg.room)?.({ type: 'selected', version: msg.version, value: msg.value });
  });
  const emit = (event: string, payload: Record<string, unknown>) =>
    new Promise<number>((resolve, reject) => {
      socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err: Error | null, response: { version?: number; error?: string }) => {
        if (err) reject(err);
        else if (response?.error) reject(new Error(response.error));
        else resolve(response?.version ?? 0);
      });
    });
  return {
    async join(room, userName) {
      await emit('join', { room, userName: userName ?? user.userName });
    },
    select: (room, field, value) => emit('select', { room, field, value }),
    async subscribe(room, afterVersion, onEvent) {
      handlers.set(room, onEvent);
      await emit('subscribe', afterVersion === undefined ? { room } : { room, afterVersion });
    },
    close() {
      socket.disconnect();
    },
  };
}

// ---- sync over HTTP ------------------------------------------------------------------------------

export interface Syncer {
  /** Fetches the whole room; resolves to its version, selection count and participant count. */
  sync(room: string, userId: string): Promise<{ version: number; selections: number; participants: number }>;
  close(): void;
}

export function syncer(target: TargetInfo, maxSockets: number): Syncer {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const call = (options: { method: string; path: string; headers: Record<string, string>; body?: string }) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: target.port, agent, timeout: ACK_TIMEOUT_MS, ...options }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
          else resolve(body);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('HTTP timeout')));
      req.end(options.body);
    });
  return {
    async sync(room, userId) {
      if (target.kind === 'service') {
        const body = JSON.stringify({ query: ROOM_QUERY, variables: { tx: room } });
        const text = await call({
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', accept: 'application/json', 'x-user-id': userId, 'content-length': String(Buffer.byteLength(body)) },
          body,
        });
        const json = JSON.parse(text) as { data?: { conflictRoom: { version: number; selections: unknown[]; participants: unknown[] } }; errors?: unknown };
        if (!json.data) throw new Error(`GraphQL errors: ${JSON.stringify(json.errors)}`);
        const r = json.data.conflictRoom;
        return { version: r.version, selections: r.selections.length, participants: r.participants.length };
      }
      const text = await call({ method: 'GET', path: `/sync?room=${encodeURIComponent(room)}`, headers: { 'x-user-id': userId } });
      const r = JSON.parse(text) as { version: number; selections: unknown[]; participants: unknown[] };
      return { version: r.version, selections: r.selections.length, participants: r.participants.length };
    },
    close() {
      agent.destroy();
    },
  };
}
