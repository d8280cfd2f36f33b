// Probe only (node --expose-gc --import ./bench/rss/agent.mjs): over the IPC channel the probe forks
// the server with, `mem` runs full GCs and answers process.memoryUsage() and V8's heap spaces, and
// `snapshot` writes a heap snapshot. Nothing of the service is touched.
import v8 from 'node:v8';

if (process.send) {
  process.on('message', (message) => {
    if (!message || typeof message !== 'object' || !('probe' in message)) return;
    const { probe, id, path, gc } = message;
    if (gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    if (probe === 'mem') {
      process.send({ id, memory: process.memoryUsage(), spaces: v8.getHeapSpaceStatistics(), heap: v8.getHeapStatistics() });
    } else if (probe === 'snapshot') {
      process.send({ id, file: v8.writeHeapSnapshot(path) });
    }
  });
  // The IPC channel must not keep the server alive on its own.
  process.channel?.unref();
}
