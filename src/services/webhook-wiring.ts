/** The resolution webhook as the app runs it: the worker with its log lines, and what it exposes. */
import type { ResolutionWebhookConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { FailedDelivery, ResolutionOutbox } from '../ports/resolution-outbox.js';
import { ResolutionWebhookWorker, type WebhookCounters } from './resolution-webhook.js';

export interface ResolutionWebhooks {
  start(): void;
  kick(): void;
  stop(): Promise<void>;
  /** This instance's counts since it started. */
  counters(): WebhookCounters;
  /** Failed deliveries (all instances), the latest first. */
  failed(max?: number): Promise<FailedDelivery[]>;
  /** Puts a failed delivery back to be delivered (its attempts counted from 0 again). */
  requeue(key: string): Promise<boolean>;
}

export function createWebhookWorker(config: ResolutionWebhookConfig, outbox: ResolutionOutbox, logger: Logger): ResolutionWebhooks {
  const about = (claim: { transactionId: string; epoch: string; webhookId: string; attempt: number }) => ({
    transactionId: claim.transactionId,
    epoch: claim.epoch,
    webhookId: claim.webhookId,
    attempt: claim.attempt,
  });
  const worker = new ResolutionWebhookWorker({
    outbox,
    ...config,
    onDelivered: (claim) => logger.info(about(claim), 'resolution webhook delivered'),
    onRetry: (claim, error, delayMs) => logger.warn({ ...about(claim), error, retryInMs: delayMs }, 'resolution webhook attempt failed; retrying'),
    onFailed: (claim, error) =>
      logger.error({ ...about(claim), error, maxAttempts: config.maxAttempts }, 'resolution webhook FAILED: given up (npm run webhooks -- failed)'),
    onError: (error) => logger.warn({ err: error }, 'resolution webhook: outbox unreachable; retrying when the lease ends'),
  });
  return {
    start: () => worker.start(),
    kick: () => worker.kick(),
    stop: () => worker.stop(),
    counters: () => ({ ...worker.counters }),
    failed: (max = 100) => outbox.listFailed(max),
    requeue: (key) => outbox.requeue(key),
  };
}
