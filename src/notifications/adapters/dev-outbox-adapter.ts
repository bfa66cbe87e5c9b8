import type { Config } from '../../config/index.js';
import { ConfigError } from '../../errors.js';
import type { DeliveryAdapter } from './delivery-adapter.js';

/**
 * Development only: "delivering" does nothing, so the outbox marks the message sent and it stays
 * readable at /dev/outbox (src/notifications/dev-outbox-router.ts). Security codes are visible
 * there, so this adapter refuses to exist in production, as config does.
 */
export function createDevOutboxAdapter(config: Pick<Config, 'mode'>): DeliveryAdapter {
  if (config.mode === 'production') throw new ConfigError('The dev-outbox adapter cannot deliver messages in production');
  return {
    async deliver(_message, signal) {
      signal?.throwIfAborted();
    },
  };
}
