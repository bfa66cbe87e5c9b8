import CircuitBreaker from 'opossum';
import { DeliveryError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * A circuit breaker in front of one channel's provider (security-bar G3: "a circuit breaker opens
 * after repeated failures"). While a provider is failing, waiting out a 5-second deadline per
 * person only makes everyone wait: the breaker answers at once instead, so a code page can say
 * "we could not send a code" straight away and the worker stops spending attempts. After
 * `openSeconds` one hand-off is let through as a trial; success closes it, failure opens it again.
 *
 * opossum does the counting (a rolling one-minute window; open when more than half of at least
 * `minAttempts` hand-offs failed). The breaker is per instance, like the provider's view of this
 * instance's network: each instance finds out for itself, and one that can reach the provider is
 * not stopped by one that cannot. A permanent refusal (a bad number, a 4xx) says nothing about the
 * provider's health, so it is not counted as a failure.
 */
export interface DeliveryBreaker {
  /** Hands one message over through the breaker; rejects at once with a DeliveryError (retryable, `breakerOpen`) while open. */
  deliver(handOff: () => Promise<void>): Promise<void>;
  /** Whether hand-offs are let through now (closed, or half-open with its trial not yet taken). */
  readonly accepting: boolean;
  shutdown(): void;
}

export interface DeliveryBreakerOptions {
  readonly channel: string;
  readonly minAttempts: number;
  readonly openSeconds: number;
  readonly logger: Logger;
}

/** The window over which failures are counted. */
const WINDOW_MS = 60_000;
const FAILURE_PERCENTAGE = 50;

/** The answer while the breaker is open: retryable, so a queued message waits for the provider to come back. */
export class BreakerOpenError extends DeliveryError {
  constructor(channel: string) {
    super(`${channel} provider circuit breaker is open: not tried`, true);
  }
}

export function createDeliveryBreaker(options: DeliveryBreakerOptions): DeliveryBreaker {
  const log = options.logger.child({ component: 'delivery-breaker', channel: options.channel });
  const breaker = new CircuitBreaker((handOff: () => Promise<void>) => handOff(), {
    // The outbox gives every hand-off its own deadline (and aborts it); no second timer here.
    timeout: false,
    resetTimeout: options.openSeconds * 1000,
    rollingCountTimeout: WINDOW_MS,
    rollingCountBuckets: 10,
    errorThresholdPercentage: FAILURE_PERCENTAGE,
    volumeThreshold: options.minAttempts,
    errorFilter: (error: unknown) => error instanceof DeliveryError && !error.retryable,
  });
  // Error level once per opening, so monitoring pages someone; closing and trials are news, not alarms.
  breaker.on('open', () => log.error({ alert: 'delivery_breaker_open', openSeconds: options.openSeconds }, `${options.channel} provider is failing: circuit breaker opened`));
  breaker.on('halfOpen', () => log.info(`${options.channel} provider circuit breaker half-open: the next hand-off is a trial`));
  breaker.on('close', () => log.info(`${options.channel} provider circuit breaker closed: deliveries resume`));

  return {
    async deliver(handOff) {
      try {
        await breaker.fire(handOff);
      } catch (error) {
        if ((error as { code?: unknown }).code === 'EOPENBREAKER') throw new BreakerOpenError(options.channel);
        throw error;
      }
    },
    get accepting() {
      return breaker.closed || (breaker.halfOpen && breaker.pendingClose);
    },
    shutdown() {
      breaker.shutdown();
    },
  };
}
