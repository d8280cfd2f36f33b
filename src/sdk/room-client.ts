/**
 * A room that stays equal to the server's, for apps that do not want to know the protocol.
 *
 *   const rooms = createRoomClient({ url: 'wss://rooms.example.com/graphql', token: () => auth.getAccessToken() });
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

export type RoomClientOptions = {
  /**
   * Send each operation's hash (extensions.persistedQuery) instead of its text, for a server that runs
   * only trusted documents (TRUSTED_DOCUMENTS=only). The hashes are those of the SDK's
   * persisted-documents.json, which the server holds.
   */
  trustedDocuments?: boolean;
} & (
  /** A graphql-ws client you made (and dispose). */
  | { client: Client }
  /** Or what the SDK needs to make one: it reconnects forever, with backoff, and `dispose()` closes it. */
  | ({
      /** The graphql-ws URL; a function is asked again on every (re)connect (a list of instances, say). */
      url: string | (() => string | Promise<string>);
      /**
       * Pings the server every `intervalMs` (default 10000) and drops the socket when no pong comes
       * within `timeoutMs` (default 5000), then reconnects and resumes: a server that froze without
       * closing (a stopped process, a dead network path) is left within their sum, where the socket
       * would otherwise look open for minutes. `false`: no pings.
       */
      keepAlive?: { intervalMs?: number; timeoutMs?: number } | false;
      /**
       * The JWT (AUTH_MODE=jwt), sent as connectionParams.authorization. Give a function to have it
       * asked again on every (re)connect: when the token expires the server closes the socket (4403),
       * the SDK reconnects with a fresh one and the room resumes with no gap. A fixed string that
       * expires closes the room (status `closed`, error UNAUTHENTICATED).
       */
      token?: string | (() => string | Promise<string>);
    } & Partial<Pick<ClientOptions, 'connectionParams' | 'webSocketImpl' | 'retryWait'>>)
);

/**
 * Where the room's stream stands:
 * - `connecting`: the first subscription is on its way;
 * - `live`: subscribed on a connected socket: every change reaches `state`;
 * - `resyncing`: catching up after a gap, a reconnect or a stream the server ended (it resumes from
 *   the last version applied);
 * - `offline`: the socket is down; graphql-ws reconnects with backoff, then the room resyncs;
 * - `closed`: no longer followed (close(), leave(), or an error that retrying cannot fix, such as
 *   FORBIDDEN, reported through onError first).
 */
export type RoomConnectionStatus = 'connecting' | 'live' | 'resyncing' | 'offline' | 'closed';

/** An error the room met while following; `code` is the contract's `extensions.code` when there is one. */
export type RoomClientError = Error & { code?: string; errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }> };

/** Options of the changing calls. */
export interface ChangeOptions {
  expectedVersion?: number;
  /**
   * Names this change for retries: a call repeated with the same requestId after a lost reply makes no
   * second change. Default: a new one per call; graphql-ws resends an operation whose reply was lost
   * after a reconnect with the same requestId.
   */
  requestId?: string;
}

export interface RoomHandle {
  /** The room as the server has it, as of the last event applied. */
  readonly state: Room;
  readonly status: RoomConnectionStatus;
  /** Called after every change of `state`, with the event that caused it (none after a reload). */
  onChange(listener: (state: Room, event?: RoomEvent) => void): () => void;
  /** Called with every new status. */
  onStatus(listener: (status: RoomConnectionStatus) => void): () => void;
  /** Called with every error met while following (the calls below reject with theirs instead). */
  onError(listener: (error: RoomClientError) => void): () => void;
  /** Select a value. Safe to retry with the same `requestId`. */
  select(field: string, value: string, options?: ChangeOptions): Promise<Room>;
  clear(field: string, options?: ChangeOptions): Promise<Room>;
  setReady(isReady: boolean, options?: Pick<ChangeOptions, 'requestId'>): Promise<Room>;
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

/**
 * What graphql-ws sends for a document: its text, or with `trustedDocuments` its hash (codegen puts it
 * in `__meta__.hash`; graphql-ws wants a query string, so the text is left empty).
 */
export function operationPayload<V extends Record<string, unknown>>(document: TypedDocumentNode<unknown, V>, variables: V, trustedDocuments = false) {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (!trustedDocuments) return { query: print(document), variables };
  if (typeof hash !== 'string') throw new Error('trustedDocuments: this document has no __meta__.hash (run codegen with persistedDocuments)');
  return { query: '', variables, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } };
}

/** Runs one query or mutation over the socket; rejects with the GraphQL errors' first message (and `errors`, `code`). */
export function execute<R, V extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<R, V>,
  variables: V,
  options: { trustedDocuments?: boolean } = {},
): Promise<R> {
  return new Promise((resolve, reject) => {
    let result: R | undefined;
    client.subscribe<R>(
      operationPayload(document, variables, options.trustedDocuments),
      {
        next: (value) => {
          if (value.errors?.length) reject(graphQLError(value.errors));
          else result = value.data as R;
        },
        error: (error) => reject(toError(error)),
        complete: () => (result === undefined ? reject(new Error('no result')) : resolve(result)),
      },
    );
  });
}

function graphQLError(errors: NonNullable<RoomClientError['errors']>): RoomClientError {
  const code = errors[0]?.extensions?.['code'];
  return Object.assign(new Error(errors[0]?.message ?? 'GraphQL error'), { errors, ...(typeof code === 'string' ? { code } : {}) });
}

/** graphql-ws reports a failed socket as a CloseEvent, an Error or a list of GraphQL errors. */
function toError(error: unknown): RoomClientError {
  if (error instanceof Error) return error;
  if (Array.isArray(error)) return graphQLError(error);
  const close = error as { code?: number; reason?: string } | null;
  // The server refused or ran out of credentials: the reason starts with the contract's code.
  if (close?.code === 4403 && close.reason?.startsWith('UNAUTHENTICATED')) {
    return Object.assign(new Error(`WebSocket closed with 4403: ${close.reason}`), { code: 'UNAUTHENTICATED' });
  }
  if (close && typeof close.code === 'number') {
    return Object.assign(new Error(`WebSocket closed with ${close.code}${close.reason ? `: ${close.reason}` : ''}`), { code: `CLOSE_${close.code}` });
  }
  return new Error(String(error));
}

/** Errors the same request would meet again: following the room stops. */
const fatalCodes = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'CLOSE_4400', 'CLOSE_4401', 'CLOSE_4403', 'CLOSE_4406']);

const newRequestId = () => globalThis.crypto.randomUUID();

/** connectionParams carrying the token; a function is asked again on every connect. */
function withToken(token: string | (() => string | Promise<string>)): ClientOptions['connectionParams'] {
  return typeof token === 'function' ? async () => ({ authorization: `Bearer ${await token()}` }) : { authorization: `Bearer ${token}` };
}

/**
 * graphql-ws's keepAlive sends pings but never gives up waiting for a pong: its own recipe closes the
 * socket when none comes. Close code 4408 is one graphql-ws retries. `terminate()` (ws, in Node) drops
 * the socket at once; a browser's close() waits for the closing handshake it will not get.
 */
function pongTimeout({ intervalMs = 10_000, timeoutMs = 5_000 }: { intervalMs?: number; timeoutMs?: number }): Pick<ClientOptions, 'keepAlive' | 'on'> {
  let socket: { readyState: number; close(code: number, reason: string): void; terminate?: () => void } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    keepAlive: intervalMs,
    on: {
      connected: (connected) => {
        socket = connected as typeof socket;
      },
      closed: () => clearTimeout(timer),
      ping: (received) => {
        if (received) return;
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (socket?.readyState !== 1) return;
          socket.close(4408, 'No pong from the server');
          socket.terminate?.();
        }, timeoutMs);
      },
      pong: (received) => {
        if (received) clearTimeout(timer);
      },
    },
  };
}

export function createRoomClient(options: RoomClientOptions): RoomClient {
  const owned = !('client' in options);
  // Credentials asked for again on every connect can recover from UNAUTHENTICATED (an expired token).
  const renewsCredentials = !('client' in options) && (typeof options.token === 'function' || typeof options.connectionParams === 'function');
  const connectionParams = 'client' in options ? undefined : options.token !== undefined ? withToken(options.token) : options.connectionParams;
  const client =
    'client' in options
      ? options.client
      : createClient({
          url: options.url,
          ...(connectionParams ? { connectionParams } : {}),
          ...(options.keepAlive === false ? {} : pongTimeout(options.keepAlive ?? {})),
          ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
          ...(options.retryWait ? { retryWait: options.retryWait } : {}),
          lazy: false,
          // graphql-ws would print the failure to the console: it reaches the app as the failed call's
          // error and through each room's onError.
          onNonLazyError: () => undefined,
          retryAttempts: Number.POSITIVE_INFINITY,
          shouldRetry: () => true,
        });

  const trustedDocuments = options.trustedDocuments ?? false;
  const run = <R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V) => execute(client, document, variables, { trustedDocuments });

  async function follow(transactionId: string, initial: Room): Promise<RoomHandle> {
    let state = initial;
    let status: RoomConnectionStatus = 'connecting';
    let closed = false;
    let stopEvents: (() => void) | undefined;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const listeners = new Set<(state: Room, event?: RoomEvent) => void>();
    const statusListeners = new Set<(status: RoomConnectionStatus) => void>();
    const errorListeners = new Set<(error: RoomClientError) => void>();
    const emit = (event?: RoomEvent) => listeners.forEach((listener) => listener(state, event));
    const setStatus = (next: RoomConnectionStatus) => {
      if (status === next || status === 'closed') return;
      status = next;
      statusListeners.forEach((listener) => listener(next));
    };
    const report = (error: RoomClientError) => errorListeners.forEach((listener) => listener(error));

    /** The stream ended or failed: report it, then resume from the last version after a pause. */
    const streamEnded = (error?: RoomClientError) => {
      if (closed) return;
      // Also ends an operation graphql-ws would otherwise resend after a reconnect.
      stopEvents?.();
      stopEvents = undefined;
      if (error) report(error);
      if (error?.code && fatalCodes.has(error.code) && !(renewsCredentials && (error.code === 'UNAUTHENTICATED' || error.code === 'CLOSE_4403'))) return close();
      setStatus('resyncing');
      const retryAfter = Number(error?.errors?.[0]?.extensions?.['retryAfterMs']);
      const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : Math.min(100 * 2 ** failures++, 5000);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(subscribe, delay);
    };
    const subscribe = () => {
      if (closed) return;
      stopEvents?.();
      let ended = false;
      const end = (error?: RoomClientError) => {
        if (ended) return;
        ended = true;
        streamEnded(error);
      };
      const unsubscribe = client.subscribe(
        operationPayload(ConflictRoomEventsDocument, { transactionId, afterVersion: state.version, epoch: state.epoch }, trustedDocuments),
        {
          next: (result) => {
            if (result.errors?.length) return end(graphQLError(result.errors));
            const event = (result.data as { conflictRoomEvents?: RoomEvent } | null | undefined)?.conflictRoomEvents;
            if (event) receive(event);
          },
          // A socket the client gave up on (a fatal close code, or retries exhausted).
          error: (error) => end(toError(error)),
          complete: () => end(),
        },
      );
      // Stopped on purpose (replaced, reloaded, closed): its completion is not an end to act on.
      stopEvents = () => {
        ended = true;
        unsubscribe();
      };
      if (connected) setStatus('live');
    };
    const receive = (event: RoomEvent) => {
      const outcome = applyEvent(state, event);
      if (outcome.kind === 'stale') return;
      if (outcome.kind === 'gap') return void reload();
      failures = 0;
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
      setStatus('resyncing');
      stopEvents?.();
      stopEvents = undefined;
      try {
        const { conflictRoom } = await run(ConflictRoomDocument, { transactionId });
        if (closed) return;
        state = conflictRoom;
        emit();
        subscribe();
      } catch (error) {
        streamEnded(toError(error));
      }
    };
    // The socket's state drives the status; after it comes back, follow from the last version applied
    // (graphql-ws would resend the subscription with the version it started from).
    let connected = true;
    const offs = [
      client.on('connected', () => {
        const reconnected = !connected;
        connected = true;
        if (closed || !reconnected) return;
        setStatus('resyncing');
        subscribe();
      }),
      client.on('closed', (event) => {
        connected = false;
        if (closed) return;
        setStatus('offline');
        // A close with a code of its own is the server saying why; graphql-ws retries most of them.
        const code = (event as { code?: unknown } | undefined)?.code;
        if (typeof code === 'number' && code >= 4000) streamEnded(toError(event));
      }),
    ];
    subscribe();

    const close = () => {
      closed = true;
      setStatus('closed');
      clearTimeout(retryTimer);
      offs.forEach((off) => off());
      stopEvents?.();
      listeners.clear();
      statusListeners.clear();
      errorListeners.clear();
    };
    const requestId = (options: { requestId?: string }) => options.requestId ?? newRequestId();
    return {
      get state() {
        return state;
      },
      get status() {
        return status;
      },
      onChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      onStatus(listener) {
        statusListeners.add(listener);
        return () => statusListeners.delete(listener);
      },
      onError(listener) {
        errorListeners.add(listener);
        return () => errorListeners.delete(listener);
      },
      select: async (field, value, opts = {}) =>
        adopt((await run(SelectFieldDocument, { transactionId, field, value, expectedVersion: opts.expectedVersion ?? null, requestId: requestId(opts) })).selectField),
      clear: async (field, opts = {}) =>
        adopt((await run(ClearFieldDocument, { transactionId, field, expectedVersion: opts.expectedVersion ?? null, requestId: requestId(opts) })).clearField),
      setReady: async (isReady, opts = {}) => adopt((await run(SetReadyDocument, { transactionId, isReady, requestId: requestId(opts) })).setReady),
      leave: async () => {
        const { leaveConflictRoom } = await run(LeaveConflictRoomDocument, { transactionId });
        close();
        return leaveConflictRoom;
      },
      close,
    };
  }

  return {
    async joinRoom(transactionId, opts = {}) {
      const { joinConflictRoom } = await run(JoinConflictRoomDocument, { transactionId, userName: opts.userName ?? null });
      return follow(transactionId, joinConflictRoom);
    },
    async watchRoom(transactionId) {
      const { conflictRoom } = await run(ConflictRoomDocument, { transactionId });
      return follow(transactionId, conflictRoom);
    },
    async dispose() {
      if (owned) await client.dispose();
    },
  };
}
