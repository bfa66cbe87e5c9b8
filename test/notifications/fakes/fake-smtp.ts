import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A minimal SMTP server (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for testing
 * the SMTP adapter without a real relay. No STARTTLS or AUTH is offered, so clients send in plain text.
 */
export type FakeSmtpMode = 'ok' | 'reject-recipient' | 'temporary-failure' | 'silent';

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  /** The raw message (headers and body) as sent after DATA, dot-unstuffed. */
  readonly data: string;
}

export interface FakeSmtp {
  readonly url: string;
  readonly received: ReceivedMail[];
  mode: FakeSmtpMode;
  close(): Promise<void>;
}

export async function startFakeSmtp(): Promise<FakeSmtp> {
  const received: ReceivedMail[] = [];
  const sockets = new Set<net.Socket>();
  const state = { mode: 'ok' as FakeSmtpMode };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // 'silent' accepts the connection and never greets: the client's timeout must fire.
    if (state.mode === 'silent') return;
    let buffer = '';
    let inData = false;
    let from = '';
    let to: string[] = [];
    let dataLines: string[] = [];
    const say = (line: string): void => {
      socket.write(`${line}\r\n`);
    };
    say('220 fake-smtp.localhost ESMTP ready');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let index: number;
      while ((index = buffer.indexOf('\r\n')) !== -1) {
        const line = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            received.push({ from, to, data: dataLines.join('\r\n') });
            dataLines = [];
            say('250 2.0.0 Ok: queued');
          } else {
            dataLines.push(line.startsWith('..') ? line.slice(1) : line);
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') {
          say('250-fake-smtp.localhost');
          say('250-8BITMIME');
          say('250 SMTPUTF8');
        } else if (verb === 'HELO') {
          say('250 fake-smtp.localhost');
        } else if (verb === 'MAIL') {
          from = /<([^>]*)>/.exec(line)?.[1] ?? '';
          to = [];
          say('250 2.1.0 Ok');
        } else if (verb === 'RCPT') {
          if (state.mode === 'reject-recipient') {
            say('550 5.1.1 Recipient address rejected: user unknown');
          } else if (state.mode === 'temporary-failure') {
            say('451 4.3.0 Temporary local problem, try again later');
          } else {
            to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
            say('250 2.1.5 Ok');
          }
        } else if (verb === 'DATA') {
          if (to.length === 0) {
            say('554 5.5.1 No valid recipients');
          } else {
            inData = true;
            say('354 End data with <CR><LF>.<CR><LF>');
          }
        } else if (verb === 'RSET') {
          from = '';
          to = [];
          say('250 2.0.0 Ok');
        } else if (verb === 'NOOP') {
          say('250 2.0.0 Ok');
        } else if (verb === 'QUIT') {
          say('221 2.0.0 Bye');
          socket.end();
        } else {
          say('502 5.5.2 Command not recognised');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    get mode() {
      return state.mode;
    },
    set mode(value: FakeSmtpMode) {
      state.mode = value;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Undoes quoted-printable soft line breaks and escapes, enough to read our plain ASCII bodies. */
export function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
