# conflict-rooms: GraphQL service (Node 20, run through tsx; no build step).
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, from the committed lock, so this layer is cached across source changes.
# tsx is a runtime dependency; devDependencies (typescript, vitest) are not needed to run.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json schema.graphql ./
COPY src/ ./src/

# The code stays root-owned and read-only to the app; tsx keeps its cache in the OS temp dir.
USER node

# HOST must be 0.0.0.0 inside a container (the default 127.0.0.1 is unreachable from outside).
# Do not set NODE_ENV=production: this version's config refuses it (only the dev identity mode exists).
# The only identity mode of this version trusts x-user-id: this image is for development, and says so.
ENV HOST=0.0.0.0 PORT=4000 DEV_AUTH_ON_NETWORK=true
EXPOSE 4000

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4000/graphql?query=%7B__typename%7D', { headers: { 'x-graphql-yoga-csrf': '1' } }).then(async (r) => { const b = await r.json(); process.exit(r.ok && b?.data?.__typename === 'Query' ? 0 : 1); }).catch(() => process.exit(1))"]

CMD ["node", "--import", "tsx", "src/main.ts"]
