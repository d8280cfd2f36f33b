/**
 * Reference server 1, "the floor": a bare `ws` room server with everything in memory. What a team
 * writes in an afternoon: rooms in a Map, one JSON message per event, serialized once and sent to
 * every subscriber of the room. No persistence, no GraphQL. Same workload as conflict-rooms:
 *
 *   connect   ws://HOST:PORT/ws?userId=..&userName=..   (development identity, like conflict-rooms')
 *   client -> {type:'join', id, room, userName?}                       -> {type:'ack', id, version}
 *   client -> {type:'select', id, room, field, value}  (participants)  -> {type:'ack', id, version}
 *             and every subscriber of the room gets {type:'selected', room, field, value, userId, version}
 *   client -> {type:'subscribe', id, room, afterVersion?}  -> the logged events after afterVersion, then
 *             {type:'ack', id, version}, then live events
 *   HTTP GET /sync?room=  -> {room, version, selections:[{field,value,userId,version}], participants:[{userId,name}]}
 *   HTTP GET /health      -> ok
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const PORT = Number(process.env.PORT ?? 4100);
const HOST = process.env.HOST ?? '127.0.0.1';
/** Events kept per room for resumes, like conflict-rooms' EVENT_LOG_LENGTH. */
const LOG_LENGTH = Number(process.env.EVENT_LOG_LENGTH ?? 1000);

interface Selection {
  field: string;
  value: string;
  userId: string;
  version: number;
}

interface Room {
  id: string;
  version: number;
  selections: Map<string, Selection>;
  participants: Map<string, { userId: string; name: string }>;
  subscribers: Set<WebSocket>;
  /** The last LOG_LENGTH events, serialized. */
  log: { version: number; json: string }[];
}

const rooms = new Map<string, Room>();

function getRoom(id: string): Room {
  let room = rooms.get(id);
  if (!room) {
    room = { id, version: 0, selections: new Map(), participants: new Map(), subscribers: new Set(), log: [] };
    rooms.set(id, room);
  }
  return room;
}

function roomJson(room: Room): string {
  return JSON.stringify({
    room: room.id,
    version: room.version,
    selections: [...room.selections.values()].sort((a, b) => (a.field < b.field ? -1 : 1)),
    participants: [...room.participants.values()],
  });
}

const httpServer = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (req.method === 'GET' && url.pathname === '/sync') {
    const id = url.searchParams.get('room');
    if (!id) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"room is required"}');
      return;
    }
    const room = rooms.get(id);
    const body = room ? roomJson(room) : JSON.stringify({ room: id, version: 0, selections: [], participants: [] });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  res.writeHead(404).end();
});

const wss = new WebSocketServer({ server: httpServer, path: '/ws' });

wss.on('connection', (socket, req) => {
  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const userId = params.get('userId');
  const userName = params.get('userName') ?? userId;
  if (!userId) {
    socket.close(4401, 'userId is required');
    return;
  }
  const subscribed = new Set<Room>();
  const reply = (message: unknown) => socket.send(JSON.stringify(message));

  socket.on('message', (data) => {
    let msg: { type?: string; id?: number; room?: string; field?: string; value?: string; userName?: string; afterVersion?: number };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      reply({ type: 'error', message: 'invalid JSON' });
      return;
    }
    if (typeof msg.room !== 'string' || msg.room === '') {
      reply({ type: 'error', id: msg.id, message: 'room is required' });
      return;
    }
    const room = getRoom(msg.room);
    switch (msg.type) {
      case 'join': {
        if (!room.participants.has(userId)) room.participants.set(userId, { userId, name: msg.userName ?? userName ?? userId });
        reply({ type: 'ack', id: msg.id, version: room.version });
        return;
      }
      case 'select': {
        if (!room.participants.has(userId)) {
          reply({ type: 'error', id: msg.id, message: 'NOT_A_PARTICIPANT' });
          return;
        }
        if (typeof msg.field !== 'string' || typeof msg.value !== 'string') {
          reply({ type: 'error', id: msg.id, message: 'field and value are required' });
          return;
        }
        const version = ++room.version;
        room.selections.set(msg.field, { field: msg.field, value: msg.value, userId, version });
        const json = JSON.stringify({ type: 'selected', room: room.id, field: msg.field, value: msg.value, userId, version });
        room.log.push({ version, json });
        if (room.log.length > LOG_LENGTH) room.log.shift();
        for (const subscriber of room.subscribers) {
          if (subscriber.readyState === WebSocket.OPEN) subscriber.send(json);
        }
        reply({ type: 'ack', id: msg.id, version });
        return;
      }
      case 'subscribe': {
        room.subscribers.add(socket);
        subscribed.add(room);
        if (typeof msg.afterVersion === 'number') {
          for (const entry of room.log) if (entry.version > msg.afterVersion) socket.send(entry.json);
        }
        reply({ type: 'ack', id: msg.id, version: room.version });
        return;
      }
      case 'unsubscribe': {
        room.subscribers.delete(socket);
        subscribed.delete(room);
        reply({ type: 'ack', id: msg.id, version: room.version });
        return;
      }
      default:
        reply({ type: 'error', id: msg.id, message: `unknown type ${String(msg.type)}` });
    }
  });

  socket.on('close', () => {
    for (const room of subscribed) room.subscribers.delete(socket);
    subscribed.clear();
  });
});

httpServer.listen(PORT, HOST, () => console.log(`bare ws room server on ws://${HOST}:${PORT}/ws`));

const shutdown = () => {
  for (const client of wss.clients) client.terminate();
  wss.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
