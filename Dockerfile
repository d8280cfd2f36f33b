# conflict-rooms: the GraphQL service, as production runs it (`node dist/main.js`, the esbuild bundle).
#   docker build -t conflict-rooms .      then see docker-compose.yml: Redis, two instances, HAProxy.

# --- build: every dependency (esbuild, TypeScript sources), then `npm run build` -> dist/ ----------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, from the committed lock, so this layer is cached across source changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json schema.graphql ./
COPY scripts/build.mjs ./scripts/
COPY src/ ./src/
RUN npm run build

# --- run: node and the bundle -------------------------------------------------------------------------
# The bundle holds the production dependencies it uses (scripts/build.mjs; test/e2e/production-build
# runs it with no node_modules anywhere), so this stage installs none: no devDependencies, no tsx, no npm
# install at all. Code that loads only when first used (GraphiQL's renderer, graphql-jit) sits in
# dist/chunks. Measured idle: about 90 MB RSS, ready about 0.3 s after start (bench/results/idle-start.md).
FROM node:20-bookworm-slim
WORKDIR /app
# Root-owned and read-only to the app, which runs as the image's unprivileged `node` user (uid 1000).
COPY --from=build /app/dist/ ./dist/
USER node

# NODE_ENV=production requires AUTH_MODE=jwt with JWT_SECRET (or JWT_JWKS_URL): without them the process
# names what is missing and exits 2. HOST must be 0.0.0.0 inside a container.
ENV NODE_ENV=production AUTH_MODE=jwt HOST=0.0.0.0 PORT=4000
EXPOSE 4000

# Liveness: GET /health answers 200 while the process runs. Readiness (GET /ready: 503 while Redis is
# unreachable or the instance drains) is the load balancer's check (deploy/haproxy.cfg): a Redis outage
# takes instances out of rotation, it does not get them restarted.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4000/health').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]

# SIGTERM (docker stop) drains: the process closes WebSockets with 1001 so clients resume elsewhere.
CMD ["node", "dist/main.js"]
