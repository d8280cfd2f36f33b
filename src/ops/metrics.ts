/**
 * Prometheus metrics: the GraphQL ones from @graphql-yoga/plugin-prometheus (with labels we bound),
 * and the service's own, fed by small callbacks from the adapters and services (never by wrapping a
 * client's methods). Redis command latency comes from ioredis's public diagnostics channel
 * (`ioredis:command`). One Registry per app, so two apps in one process (tests) do not collide.
 */
import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel';
import { createCounter, createHistogram, usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventBatch } from '../domain/events.js';
import { maskError } from '../transport/mask-error.js';

/** Seconds, from 0.5 ms to 10 s. */
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The contract code of an error as the client sees it (INTERNAL_SERVER_ERROR for a masked one). */
export function contractCode(error: unknown): string {
  const code = (maskError(error, 'Unexpected error.') as Partial<GraphQLError>).extensions?.['code'];
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}

/** A GraphQL name of at most 64 characters; longer ones are "other" (names are otherwise unbounded). */
const labelledName = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

/**
 * Operation names come from clients: the first 100 distinct ones of at most 64 characters are labels,
 * later or longer ones are "other", so that a client inventing names cannot grow the registry (and every
 * scrape) without bound: 100 names of 62 KB made a 224 MB scrape before (found by the outside probe).
 */
export class BoundedNames {
  private readonly seen = new Set<string>();
  constructor(private readonly max = 100) {}
  label(name: string | undefined | null): string {
    if (!name) return 'anonymous';
    if (this.seen.has(name)) return name;
    if (this.seen.size >= this.max || !labelledName.test(name)) return 'other';
    this.seen.add(name);
    return name;
  }
}

export type CommitStatus = 'committed' | 'conflict' | 'duplicate' | 'error';

export class Metrics {
  readonly registry = new Registry();
  readonly names = new BoundedNames();
  private readonly operations = new Counter({
    name: 'conflict_rooms_operations_total',
    help: 'Queries and mutations by operation name, type and outcome (ok, or the contract code of the first error)',
    labelNames: ['operation_name', 'operation_type', 'outcome'],
    registers: [this.registry],
  });
  private readonly websockets = this.gauge('conflict_rooms_websocket_connections', 'Open WebSocket connections');
  private readonly sseStreams = this.gauge('conflict_rooms_sse_streams', 'Open SSE (text/event-stream) responses');
  private readonly subscriptions = this.gauge('conflict_rooms_subscriptions', 'Open conflictRoomEvents subscriptions, on any transport');
  private readonly fanOutSeconds = new Histogram({
    name: 'conflict_rooms_event_fanout_seconds',
    help: "From an event's commit decision (its `at`) to this instance handing it to its local subscribers",
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  private readonly commitSeconds = new Histogram({
    name: 'conflict_rooms_commit_duration_seconds',
    help: 'One commit to the store, by status (committed, conflict, duplicate, error)',
    labelNames: ['status'],
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  private readonly commitRetries = new Counter({
    name: 'conflict_rooms_commit_retries_total',
    help: 'Commits tried again because the room moved on (compare-and-set conflicts)',
    registers: [this.registry],
  });
  private readonly redisSeconds = new Histogram({
    name: 'conflict_rooms_redis_command_duration_seconds',
    help: 'Redis commands sent by this process, by command and outcome (ok, error)',
    labelNames: ['command', 'outcome'],
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  private readonly sweeps = new Counter({
    name: 'conflict_rooms_presence_sweeps_total',
    help: 'Presence sweeps of dead instances by outcome (swept, failed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly sweptRooms = new Counter({
    name: 'conflict_rooms_presence_swept_rooms_total',
    help: 'Rooms whose presence a sweep of a dead instance settled',
    registers: [this.registry],
  });
  private inFlight: () => number = () => 0;
  readonly ready = this.gauge('conflict_rooms_ready', '1 while GET /ready answers 200');
  readonly draining = this.gauge('conflict_rooms_draining', '1 from SIGTERM on');

  constructor() {
    const inFlight = () => this.inFlight();
    new Gauge({
      name: 'conflict_rooms_work_in_flight',
      help: 'Queries and mutations (any transport) and plain HTTP requests under way; the drain waits for them',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
    collectDefaultMetrics({ register: this.registry });
    this.ready.set(0);
    this.draining.set(0);
  }

  /** Content-Type of metricsText(). */
  get contentType(): string {
    return this.registry.contentType;
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** The GraphQL metrics: operations, their duration, errors by contract code, HTTP duration. */
  yogaPlugin(): Plugin {
    const registry = this.registry;
    const labels = (params: { operationName?: string | undefined; operationType?: string | undefined }) => ({
      operationName: this.names.label(params.operationName),
      operationType: params.operationType ?? 'unknown',
    });
    return usePrometheus({
      registry,
      endpoint: false,
      metrics: {
        graphql_envelop_request: createCounter({
          registry,
          counter: { name: 'graphql_envelop_request', help: 'GraphQL operations executed', labelNames: ['operationName', 'operationType'] },
          fillLabelsFn: labels,
        }),
        graphql_envelop_request_duration: createHistogram({
          registry,
          histogram: {
            name: 'graphql_envelop_request_duration',
            help: 'Time to execute a GraphQL operation (seconds)',
            labelNames: ['operationName', 'operationType'],
            buckets: latencyBuckets,
          },
          fillLabelsFn: labels,
        }),
        graphql_envelop_error_result: createCounter({
          registry,
          counter: {
            name: 'graphql_envelop_error_result',
            help: 'Errors in results, by phase and contract code (extensions.code)',
            labelNames: ['operationName', 'operationType', 'phase', 'code'],
          },
          fillLabelsFn: (params) => ({ ...labels(params), phase: params.errorPhase ?? 'unknown', code: contractCode(params.error) }),
        }),
        graphql_yoga_http_duration: createHistogram({
          registry,
          histogram: {
            name: 'graphql_yoga_http_duration',
            help: 'Time to answer a GraphQL HTTP request (seconds)',
            labelNames: ['operationName', 'operationType', 'method', 'statusCode'],
            buckets: latencyBuckets,
          },
          fillLabelsFn: (params, { request, response }: { request: Request; response: Response }) => ({
            ...labels(params),
            method: request.method,
            statusCode: response.status,
          }),
        }),
        graphql_envelop_deprecated_field: false,
        graphql_envelop_request_time_summary: false,
        graphql_envelop_phase_parse: false,
        graphql_envelop_phase_validate: false,
        graphql_envelop_phase_context: false,
        graphql_envelop_phase_execute: false,
        graphql_envelop_phase_subscribe: false,
        graphql_envelop_schema_change: false,
        graphql_envelop_execute_resolver: false,
      },
    });
  }

  /** Where conflict_rooms_work_in_flight reads from (Drain.pending). */
  countInFlight(pending: () => number): void {
    this.inFlight = pending;
  }

  operation(name: string | undefined, type: string, outcome: string): void {
    this.operations.inc({ operation_name: this.names.label(name), operation_type: type, outcome });
  }

  websocketOpened(): () => void {
    return this.opened(this.websockets);
  }

  sseOpened(): () => void {
    return this.opened(this.sseStreams);
  }

  subscriptionOpened(): () => void {
    return this.opened(this.subscriptions);
  }

  /** RoomEvents' onFanOut. */
  fanOut(batch: EventBatch): void {
    const at = Date.parse(batch.events[batch.events.length - 1]?.at ?? '');
    if (Number.isFinite(at)) this.fanOutSeconds.observe(Math.max(0, Date.now() - at) / 1000);
  }

  /** RoomService's onCommit. */
  commit(status: CommitStatus, seconds: number, retry: boolean): void {
    this.commitSeconds.observe({ status }, seconds);
    if (retry) this.commitRetries.inc();
  }

  presenceSwept(rooms: number): void {
    this.sweeps.inc({ outcome: 'swept' });
    this.sweptRooms.inc(rooms);
  }

  presenceSweepFailed(): void {
    this.sweeps.inc({ outcome: 'failed' });
  }

  /** Times every Redis command of this process (ioredis's `ioredis:command` tracing channel); returns the unsubscribe. */
  traceRedisCommands(): () => void {
    const channel = tracingChannel('ioredis:command') as TracingChannel<object, RedisCommandContext>;
    const started = new WeakMap<object, bigint>();
    const handlers = {
      start: (context: RedisCommandContext) => void started.set(context, process.hrtime.bigint()),
      asyncEnd: (context: RedisCommandContext) => {
        const start = started.get(context);
        if (start === undefined) return;
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        this.redisSeconds.observe({ command: String(context.command ?? 'unknown').toLowerCase(), outcome: context.error ? 'error' : 'ok' }, seconds);
      },
    };
    channel.subscribe(handlers as never);
    return () => channel.unsubscribe(handlers as never);
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }

  private opened(gauge: Gauge): () => void {
    gauge.inc();
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      gauge.dec();
    };
  }
}

interface RedisCommandContext {
  command?: string;
  error?: unknown;
}
