import type { DataSource } from 'typeorm';
import { createLogger, type Logger } from '../../src/logger.js';
import type { DeliverableMessage, DeliveryAdapter } from '../../src/notifications/outbox.js';

/** A logger whose output the test can read (to prove what is, and is not, logged). */
export interface LogCapture {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
  readonly raw: string[];
}

export function captureLogs(level = 'debug'): LogCapture {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level }, {
    write(chunk: string) {
      raw.push(chunk);
      lines.push(JSON.parse(chunk) as Record<string, unknown>);
    },
  });
  return { logger, lines, raw };
}

/**
 * Stands in for a provider (GOV.UK Notify, an SMTP relay) where the test needs to script its
 * behaviour: each call runs the next scripted step, or the default once the script is used up.
 */
export type ProviderStep = 'accept' | 'hang' | Error | ((message: DeliverableMessage, signal?: AbortSignal) => Promise<void>);

export interface ScriptedProvider extends DeliveryAdapter {
  readonly calls: DeliverableMessage[];
  readonly aborted: DeliverableMessage[];
  script: ProviderStep[];
  otherwise: ProviderStep;
}

export function scriptedProvider(otherwise: ProviderStep = 'accept', script: ProviderStep[] = []): ScriptedProvider {
  const provider: ScriptedProvider = {
    calls: [],
    aborted: [],
    script,
    otherwise,
    async deliver(message, signal) {
      provider.calls.push(message);
      const step = provider.script.length > 0 ? provider.script.shift()! : provider.otherwise;
      if (step === 'accept') return;
      if (step === 'hang') {
        await new Promise<void>((_, reject) => {
          signal?.addEventListener('abort', () => {
            provider.aborted.push(message);
            reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          }, { once: true });
        });
        return;
      }
      if (step instanceof Error) throw step;
      await step(message, signal);
    },
  };
  return provider;
}

export interface OutboxRow {
  id: string;
  channel: string;
  recipient: string;
  template: string;
  subject: string | null;
  body: string | null;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  deliver_before: Date | null;
  last_error: string | null;
  account_id: string | null;
  /** Back-channel logout rows only. */
  sub: string | null;
  sid: string | null;
  created_at: Date;
  sent_at: Date | null;
  /** Seconds from the database's now() to next_attempt_at. */
  due_in_seconds: number;
}

export async function outboxRows(dataSource: DataSource): Promise<OutboxRow[]> {
  const rows: OutboxRow[] = await dataSource.query(
    `SELECT *, EXTRACT(EPOCH FROM (next_attempt_at - now()))::float8 AS due_in_seconds FROM outbox_message ORDER BY created_at, id`,
  );
  return rows.map((row) => ({ ...row, attempts: Number(row.attempts), due_in_seconds: Number(row.due_in_seconds) }));
}

export async function outboxRow(dataSource: DataSource, id: string): Promise<OutboxRow> {
  const row = (await outboxRows(dataSource)).find((candidate) => candidate.id === id);
  if (!row) throw new Error(`no outbox row ${id}`);
  return row;
}

/** Lets time pass for the outbox: every waiting retry becomes due now. */
export async function makeRetriesDue(dataSource: DataSource): Promise<void> {
  await dataSource.query(`UPDATE outbox_message SET next_attempt_at = now() - interval '1 second' WHERE status = 'queued'`);
}

export async function clearOutbox(dataSource: DataSource): Promise<void> {
  await dataSource.query('DELETE FROM outbox_message');
}
