/**
 * The resolution webhook's delivery worker (SEMANTICS.md, "Resolution webhook"). Every instance runs
 * one; the outbox's leases make sure that one delivery has one holder at a time, so the receiver gets
 * one accepted delivery per resolution however many instances run, and the crash of a holder only
 * delays delivery until its lease ends. Each attempt is signed by the Standard Webhooks scheme with
 * the same `webhook-id`; only the configured URL is called, with a timeout and without following
 * redirects.
 */
import { Webhook } from 'standardwebhooks';
import type { ClaimedDelivery, ResolutionOutbox } from '../ports/resolution-outbox.js';

export interface ResolutionWebhookWorkerOptions {
  outbox: ResolutionOutbox;
  /** The only URL ever called. */
  url: string;
  /** `whsec_…`: the Standard Webhooks secret. */
  secret: string;
  /** An attempt with no answer by then failed. */
  timeoutMs: number;
  /** The wait after the first failed attempt; it doubles after each next one, up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Failed attempts after which the delivery is given up as failed. */
  maxAttempts: number;
  /** How long a claim is held; another instance takes the delivery over after it. */
  leaseMs: number;
  /** How often due deliveries are looked for. Default: half of retryBaseMs, from 50 to 1000 ms. */
  pollMs?: number;
  /** Deliveries attempted at once by this instance. Default 16. */
  concurrency?: number;
  fetch?: typeof fetch;
  onDelivered?(claim: ClaimedDelivery): void;
  onRetry?(claim: ClaimedDelivery, error: string, delayMs: number): void;
  onFailed?(claim: ClaimedDelivery, error: string): void;
  /** The outbox could not be reached (the delivery is retried when its lease ends). */
  onError?(error: unknown): void;
}

/** What this instance did since it started; exposed by the app (`App.webhooks.counters()`). */
export interface WebhookCounters {
  /** Attempts made (requests sent). */
  attempts: number;
  /** Deliveries the receiver accepted (2xx). */
  delivered: number;
  /** Failed attempts that will be retried. */
  retried: number;
  /** Deliveries given up after the last attempt. */
  failed: number;
}

/** The wait before the attempt after attempt `attempt` (from 1): capped exponential backoff. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.min(attempt - 1, 30), maxMs);
}

type Outcome = { ok: true } | { ok: false; error: string };

export class ResolutionWebhookWorker {
  readonly counters: WebhookCounters = { attempts: 0, delivered: 0, retried: 0, failed: 0 };
  private readonly webhook: Webhook;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly aborts = new Set<AbortController>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private interval: NodeJS.Timeout | undefined;
  private polling = false;
  private pollAgain = false;
  private stopped = false;

  constructor(private readonly options: ResolutionWebhookWorkerOptions) {
    this.webhook = new Webhook(options.secret);
  }

  start(): void {
    const pollMs = this.options.pollMs ?? Math.min(1000, Math.max(50, Math.round(this.options.retryBaseMs / 2)));
    this.interval = setInterval(() => this.kick(), pollMs);
    this.interval.unref();
    this.kick();
  }

  /** Looks for due deliveries now (a room was just resolved here, or a retry is due). */
  kick(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    void this.poll();
  }

  /** Stops claiming; attempts under way are aborted and handed back at once for another instance. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.interval);
    for (const timer of this.timers) clearTimeout(timer);
    for (const controller of this.aborts) controller.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      do {
        this.pollAgain = false;
        const free = (this.options.concurrency ?? 16) - this.inFlight.size;
        if (free <= 0 || this.stopped) break;
        const claims = await this.options.outbox.claimDue(free, this.options.leaseMs);
        for (const claim of claims) {
          const running: Promise<void> = this.attempt(claim).finally(() => {
            this.inFlight.delete(running);
            // A slot freed while more may be due.
            if (claims.length === free) this.kick();
          });
          this.inFlight.add(running);
        }
      } while (this.pollAgain);
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      this.polling = false;
    }
  }

  private async attempt(claim: ClaimedDelivery): Promise<void> {
    const { outbox, maxAttempts, retryBaseMs, retryMaxMs } = this.options;
    try {
      // The holder of the last attempt died before it could settle it: nothing left to try.
      if (claim.attempt > maxAttempts) return await this.giveUp(claim, `no attempt left after ${maxAttempts} (the last one's instance stopped)`);
      const outcome = await this.send(claim);
      if (outcome.ok) {
        if (await outbox.delivered(claim)) {
          this.counters.delivered++;
          this.options.onDelivered?.(claim);
        }
        return;
      }
      if (this.stopped) {
        // Handed back at once: another instance carries on where this one stopped.
        await outbox.retryLater(claim, 0, `${outcome.error} (instance stopping)`);
        return;
      }
      if (claim.attempt >= maxAttempts) return await this.giveUp(claim, outcome.error);
      const delayMs = retryDelayMs(claim.attempt, retryBaseMs, retryMaxMs);
      if (await outbox.retryLater(claim, delayMs, outcome.error)) {
        this.counters.retried++;
        this.options.onRetry?.(claim, outcome.error, delayMs);
        this.later(delayMs);
      }
    } catch (error) {
      // The outbox is unreachable: the lease runs out and the delivery is claimed again then.
      this.options.onError?.(error);
    }
  }

  private async giveUp(claim: ClaimedDelivery, error: string): Promise<void> {
    if (!(await this.options.outbox.failed(claim, error))) return;
    this.counters.failed++;
    this.options.onFailed?.(claim, error);
  }

  /** Polls again when a retry this instance scheduled is due, rather than at the next interval. */
  private later(delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.kick();
    }, delayMs + 10);
    timer.unref();
    this.timers.add(timer);
  }

  /** One signed POST. Any 2xx is success; anything else, a redirect included, is a failed attempt. */
  private async send(claim: ClaimedDelivery): Promise<Outcome> {
    const { url, timeoutMs } = this.options;
    const send = this.options.fetch ?? fetch;
    const now = new Date();
    const controller = new AbortController();
    this.aborts.add(controller);
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    this.counters.attempts++;
    try {
      const response = await send(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': claim.webhookId,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': this.webhook.sign(claim.webhookId, now, claim.body),
        },
        body: claim.body,
        // Only the configured URL is ever called: a redirect is an answer, and not a 2xx one.
        redirect: 'manual',
        signal: controller.signal,
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true };
      const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
      return { ok: false, error: `HTTP ${response.status}${redirect}` };
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      // fetch says "fetch failed"; the cause says why (ECONNREFUSED, a reset, a TLS error).
      const cause = (reason as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause ? ` (${cause.code ?? cause.message})` : '';
      return { ok: false, error: `${reason instanceof Error ? reason.message : String(reason)}${detail}` };
    } finally {
      clearTimeout(timer);
      this.aborts.delete(controller);
    }
  }
}
