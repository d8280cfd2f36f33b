/**
 * Reference server 2, "what teams pick instead": Socket.IO 4 rooms with @socket.io/redis-adapter
 * (ioredis pub/sub clients), each selection stored in a Redis hash. Written the plain way:
 *
 *   connect   io(url, { auth: { userId, userName } })
 *   emit('join', {room, userName?}, ack)          HSET <p>room:<r>:people userId -> {userId,name}; ack({version})
 *   emit('select', {room, field, value}, ack)     only sockets that joined the room; one MULTI:
 *                                                 INCR version, HSET the field, RPUSH+LTRIM the resume log;
 *                                                 then io.to(room).emit('selected', {...}) and ack({version})
 *   emit('subscribe', {room, afterVersion?}, ack) socket.join(room); with afterVersion, the logged events
 *                                                 after it (LRANGE); then ack({version})
 *   HTTP GET /sync?room=                          GET version + HGETALL selections + HGETALL people
 *   HTTP GET /health                              ok
 *
 * Env: PORT, HOST, REDIS_URL, KEY_PREFIX (every key and the adapter's channels start with it).
 *
 * SOCKETIO_PLAIN=1 (bench target `socketio-plain`): the server most teams would write first (issue 10
 * item 9). A select is one HSET of the field into the room's hash, then io.to(room).emit and the ack:
 * no version INCR, no resume log, no MULTI, no participant check. The stored form is the same JSON
 * {value, userId} as above, so the two servers differ only by what is listed. Subscribing with
 * afterVersion is refused (there is no log to resume from); /sync is HGETALL selections + people.
 * The `version` in its events, acks and /sync is bench bookkeeping only (see `bookkeeping` below).
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const PORT = Number(process.env.PORT ?? 4200);
const HOST = process.env.HOST ?? '127.0.0.1';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const P = process.env.KEY_PREFIX ?? 'sio:';
const LOG_LENGTH = Number(process.env.EVENT_LOG_LENGTH ?? 1000);
const PLAIN = process.env.SOCKETIO_PLAIN === '1' || process.env.SOCKETIO_PLAIN === 'true';

/**
 * Plain mode only, and only for the bench's bookkeeping: a per-room counter in this process's memory,
 * bumped when a select's HSET has answered, just before the emit. The load generators count lost,
 * duplicated and out-of-order deliveries by the version each select was acknowledged with; this
 * counter gives the plain server such a number without touching Redis. It is not a room version (it
 * is not stored, not shared between instances and starts at 0 on every start), it is what a plain
 * server does not have; it costs a Map get and set per select.
 */
const bookkeeping = new Map<string, number>();
const bump = (room: string) => {
  const n = (bookkeeping.get(room) ?? 0) + 1;
  bookkeeping.set(room, n);
  return n;
};

const redis = new Redis(REDIS_URL);
const pubClient = new Redis(REDIS_URL);
const subClient = pubClient.duplicate();

const keys = (room: string) => ({
  version: `${P}room:${room}:version`,
  selections: `${P}room:${room}:selections`,
  people: `${P}room:${room}:people`,
  log: `${P}room:${room}:log`,
});

async function readRoom(room: string) {
  const k = keys(room);
  if (PLAIN) {
    const result = await redis.pipeline().hgetall(k.selections).hgetall(k.people).exec();
    if (!result || result[0]![0] || result[1]![0]) throw result?.[0]![0] ?? result?.[1]![0] ?? new Error('pipeline failed');
    return { room, version: bookkeeping.get(room) ?? 0, ...parseRoom(result[0]![1], result[1]![1]) };
  }
  const result = await redis.multi().get(k.version).hgetall(k.selections).hgetall(k.people).exec();
  if (!result) throw new Error('transaction aborted');
  const version = Number(result[0]![1] ?? 0);
  return { room, version, ...parseRoom(result[1]![1], result[2]![1]) };
}

function parseRoom(selectionsHash: unknown, peopleHash: unknown) {
  const selections = Object.entries(selectionsHash as Record<string, string>)
    .map(([field, json]) => ({ field, ...(JSON.parse(json) as { value: string; userId: string }) }))
    .sort((a, b) => (a.field < b.field ? -1 : 1));
  const participants = Object.values(peopleHash as Record<string, string>).map((json) => JSON.parse(json) as { userId: string; name: string });
  return { selections, participants };
}

const httpServer = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (req.method === 'GET' && url.pathname === '/sync') {
    const room = url.searchParams.get('room');
    if (!room) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"room is required"}');
      return;
    }
    readRoom(room).then(
      (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
      (error: unknown) => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) })),
    );
    return;
  }
  // Socket.IO answers its own path (/socket.io/); leave everything else a 404.
  if (!url.pathname.startsWith('/socket.io/')) res.writeHead(404).end();
});

const io = new Server(httpServer, {
  serveClient: false,
  adapter: createAdapter(pubClient, subClient, { key: `${P}socket.io` }),
});

io.use((socket, next) => {
  const userId = (socket.handshake.auth as { userId?: unknown }).userId;
  if (typeof userId !== 'string' || userId === '') return next(new Error('userId is required'));
  socket.data.userId = userId;
  socket.data.userName = (socket.handshake.auth as { userName?: string }).userName ?? userId;
  next();
});

type Ack = (response: Record<string, unknown>) => void;
const safeAck = (ack: unknown): Ack => (typeof ack === 'function' ? (ack as Ack) : () => undefined);

io.on('connection', (socket) => {
  const userId = socket.data.userId as string;
  /** Rooms this socket joined as a participant (checked before a select, without a Redis round trip). */
  const joined = new Set<string>();

  socket.on('join', async (msg: { room?: string; userName?: string }, ackFn: unknown) => {
    const ack = safeAck(ackFn);
    try {
      if (typeof msg?.room !== 'string' || msg.room === '') return ack({ error: 'room is required' });
      const k = keys(msg.room);
      await redis.hsetnx(k.people, userId, JSON.stringify({ userId, name: msg.userName ?? socket.data.userName }));
      joined.add(msg.room);
      ack({ version: PLAIN ? (bookkeeping.get(msg.room) ?? 0) : Number((await redis.get(k.version)) ?? 0) });
    } catch (error) {
      ack({ error: String(error) });
    }
  });

  socket.on('select', async (msg: { room?: string; field?: string; value?: string }, ackFn: unknown) => {
    const ack = safeAck(ackFn);
    try {
      if (typeof msg?.room !== 'string' || typeof msg.field !== 'string' || typeof msg.value !== 'string') {
        return ack({ error: 'room, field and value are required' });
      }
      if (PLAIN) {
        await redis.hset(keys(msg.room).selections, msg.field, JSON.stringify({ value: msg.value, userId }));
        const version = bump(msg.room);
        io.to(msg.room).emit('selected', { room: msg.room, field: msg.field, value: msg.value, userId, version });
        return ack({ version });
      }
      if (!joined.has(msg.room)) return ack({ error: 'NOT_A_PARTICIPANT' });
      const k = keys(msg.room);
      const result = await redis
        .multi()
        .incr(k.version)
        .hset(k.selections, msg.field, JSON.stringify({ value: msg.value, userId }))
        .rpush(k.log, JSON.stringify({ field: msg.field, value: msg.value, userId }))
        .ltrim(k.log, -LOG_LENGTH, -1)
        .exec();
      if (!result || result[0]![0]) throw result?.[0]![0] ?? new Error('transaction aborted');
      const version = result[0]![1] as number;
      io.to(msg.room).emit('selected', { room: msg.room, field: msg.field, value: msg.value, userId, version });
      ack({ version });
    } catch (error) {
      ack({ error: String(error) });
    }
  });

  socket.on('subscribe', async (msg: { room?: string; afterVersion?: number }, ackFn: unknown) => {
    const ack = safeAck(ackFn);
    try {
      if (typeof msg?.room !== 'string' || msg.room === '') return ack({ error: 'room is required' });
      if (PLAIN && typeof msg.afterVersion === 'number') return ack({ error: 'the plain server keeps no log to resume from' });
      await socket.join(msg.room);
      if (PLAIN) return ack({ version: bookkeeping.get(msg.room) ?? 0 });
      const k = keys(msg.room);
      if (typeof msg.afterVersion === 'number') {
        const result = await redis.multi().get(k.version).lrange(k.log, 0, -1).exec();
        const version = Number(result?.[0]![1] ?? 0);
        const entries = (result?.[1]![1] ?? []) as string[];
        // INCR and RPUSH happen in one MULTI, so the log's last entry is the current version.
        const first = version - entries.length + 1;
        entries.forEach((json, i) => {
          if (first + i > msg.afterVersion!) socket.emit('selected', { room: msg.room, version: first + i, ...JSON.parse(json) });
        });
        return ack({ version });
      }
      ack({ version: Number((await redis.get(k.version)) ?? 0) });
    } catch (error) {
      ack({ error: String(error) });
    }
  });

  socket.on('unsubscribe', async (msg: { room?: string }, ackFn: unknown) => {
    if (typeof msg?.room === 'string') await socket.leave(msg.room);
    safeAck(ackFn)({ ok: true });
  });
});

httpServer.listen(PORT, HOST, () => console.log(`${PLAIN ? 'plain ' : ''}Socket.IO + Redis room server on http://${HOST}:${PORT}`));

const shutdown = () => {
  io.close();
  setTimeout(() => {
    redis.disconnect();
    pubClient.disconnect();
    subClient.disconnect();
    process.exit(0);
  }, 200);
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
