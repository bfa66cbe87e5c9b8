import type { Config } from '../../config/index.js';
import { ConfigError } from '../../errors.js';
import type { DeliveryAdapter, DeliveryAdapters } from './delivery-adapter.js';
import { createDevOutboxAdapter } from './dev-outbox-adapter.js';
import { createNotifyAdapter } from './notify-adapter.js';
import { createSmtpAdapter } from './smtp-adapter.js';

export type { DeliverableMessage, DeliveryAdapter, DeliveryAdapters, LogoutDeliveryAdapter, LogoutNotice } from './delivery-adapter.js';
export { DELIVERY_TIMEOUT_MS } from './delivery-adapter.js';
export { createDevOutboxAdapter } from './dev-outbox-adapter.js';
export { createNotifyAdapter } from './notify-adapter.js';
export { createSmtpAdapter } from './smtp-adapter.js';

/**
 * The adapters config asks for (config.notifications.email / .sms), except any supplied in
 * `overrides`. Missing settings stop the start here rather than failing every message later.
 */
export function createDeliveryAdapters(config: Config, overrides: Partial<DeliveryAdapters> = {}): DeliveryAdapters {
  const { notifications } = config;
  let notify: DeliveryAdapter | undefined;
  const useNotify = (): DeliveryAdapter => (notify ??= createNotifyAdapter(notifications.notify));

  const email = overrides.email ?? (() => {
    switch (notifications.email) {
      case 'notify':
        if (!notifications.notify.emailTemplateId) throw new ConfigError('EMAIL_ADAPTER=notify needs NOTIFY_EMAIL_TEMPLATE_ID');
        return useNotify();
      case 'smtp':
        return createSmtpAdapter(notifications.smtp);
      case 'dev-outbox':
        return createDevOutboxAdapter(config);
    }
  })();
  const sms = overrides.sms ?? (() => {
    switch (notifications.sms) {
      case 'notify':
        if (!notifications.notify.smsTemplateId) throw new ConfigError('SMS_ADAPTER=notify needs NOTIFY_SMS_TEMPLATE_ID');
        return useNotify();
      case 'dev-outbox':
        return createDevOutboxAdapter(config);
    }
  })();
  return { email, sms, ...(overrides.backchannelLogout ? { backchannelLogout: overrides.backchannelLogout } : {}) };
}
