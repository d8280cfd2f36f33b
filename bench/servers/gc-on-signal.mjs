// Bench only (node --expose-gc --import ./bench/servers/gc-on-signal.mjs): SIGUSR2 runs a full GC, so a
// bench can read the server's RSS after garbage is gone instead of whenever V8 happened to collect.
if (typeof globalThis.gc === 'function') process.on('SIGUSR2', () => globalThis.gc());
