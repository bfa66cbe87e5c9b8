/**
 * A small fetch-based browser for HTTP-level journey tests: a cookie jar (host + path scoped),
 * manual redirect following, and form parsing/submission. It stops following redirects at
 * `stopAt` (a relying party's redirect_uri) so the test can hand the callback URL to the RP.
 */
export interface Page {
  readonly url: string;
  readonly status: number;
  readonly html: string;
  readonly headers: Headers;
  /** Set when a redirect to `stopAt` ended the navigation: the full callback URL. */
  readonly callbackUrl?: string;
  /** Every Set-Cookie header received while loading this page (after redirects). */
  readonly setCookies: readonly string[];
}

export interface Form {
  readonly action: string;
  readonly method: string;
  readonly fields: Record<string, string>;
  readonly buttons: { name?: string; value?: string; text: string }[];
}

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
}

const MAX_REDIRECTS = 20;

export class Browser {
  private readonly jar = new Map<string, Cookie>();

  constructor(private readonly options: { stopAt?: string; headers?: Record<string, string> } = {}) {}

  /** Navigates to url (GET), following redirects. */
  get(url: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.navigate(url, { method: 'GET', headers });
  }

  /** Submits a form found on the page (the first, or the one whose action contains `actionContains`). */
  async submit(page: Page, fields: Record<string, string> = {}, options: { actionContains?: string; button?: string; omit?: string[]; headers?: Record<string, string>; noFollow?: boolean } = {}): Promise<Page> {
    const form = findForm(page, options.actionContains);
    const body = new URLSearchParams({ ...form.fields, ...fields });
    if (options.button) {
      const button = form.buttons.find((b) => b.text.includes(options.button!) || b.value === options.button || b.name === options.button);
      if (!button) throw new Error(`no button "${options.button}" in form ${form.action}: ${JSON.stringify(form.buttons)}`);
      if (button.name) body.set(button.name, button.value ?? '');
    }
    for (const name of options.omit ?? []) body.delete(name);
    const action = new URL(form.action || page.url, page.url).toString();
    return this.navigate(action, {
      method: form.method.toUpperCase() === 'GET' ? 'GET' : 'POST',
      body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(page.url).origin, ...options.headers },
      noFollow: options.noFollow,
    });
  }

  /**
   * Submits a page's form as multipart/form-data, as a browser does for a form with file inputs:
   * its fields (CSRF token first, as on the page) and then `files`, each with a made-up name and type.
   */
  async submitMultipart(page: Page, fields: Record<string, string>, files: Record<string, { bytes: Uint8Array; type?: string; filename?: string }>, options: { actionContains?: string; omit?: string[]; headers?: Record<string, string> } = {}): Promise<Page> {
    const form = findForm(page, options.actionContains);
    const data = new FormData();
    for (const [name, value] of Object.entries({ ...form.fields, ...fields })) if (!options.omit?.includes(name) && !Object.hasOwn(files, name)) data.append(name, value);
    for (const [name, file] of Object.entries(files)) data.append(name, new Blob([new Uint8Array(file.bytes)], { type: file.type ?? 'application/octet-stream' }), file.filename ?? `${name}.bin`);
    const action = new URL(form.action || page.url, page.url).toString();
    return this.navigate(action, { method: 'POST', body: data, headers: { origin: new URL(page.url).origin, ...options.headers } });
  }

  /** The Cookie header this browser would send to `url` (for raw requests a test builds itself). */
  cookiesFor(url: string): string {
    return this.cookieHeader(url);
  }

  /** Posts arbitrary form data (for negative tests: forged or replayed submissions). */
  post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    return this.navigate(url, { method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  }

  cookieNames(): string[] {
    return [...this.jar.values()].map((c) => c.name);
  }

  setCookie(url: string, name: string, value: string, path = '/'): void {
    const host = new URL(url).host;
    this.jar.set(`${host}|${path}|${name}`, { name, value, host, path });
  }

  /** With `noFollow`, the first answer is returned even when it is a redirect (its Location header tells where to). */
  private async navigate(url: string, init: { method: string; body?: string | FormData; headers: Record<string, string>; noFollow?: boolean }): Promise<Page> {
    let current = url;
    let method = init.method;
    let body = init.body;
    let headers = { ...init.headers };
    const setCookies: string[] = [];
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (this.options.stopAt && current.startsWith(this.options.stopAt)) {
        return { url: current, status: 0, html: '', headers: new Headers(), callbackUrl: current, setCookies };
      }
      const response = await fetch(current, {
        method,
        body: method === 'GET' ? undefined : body,
        redirect: 'manual',
        headers: { accept: 'text/html', ...this.options.headers, ...headers, cookie: this.cookieHeader(current) },
      });
      for (const header of response.headers.getSetCookie()) {
        setCookies.push(header);
        this.store(current, header);
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location && !init.noFollow) {
        await response.arrayBuffer();
        current = new URL(location, current).toString();
        if (response.status !== 307 && response.status !== 308) {
          method = 'GET';
          body = undefined;
          headers = {};
        }
        continue;
      }
      return { url: current, status: response.status, html: await response.text(), headers: response.headers, setCookies };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  private cookieHeader(url: string): string {
    const { host, pathname } = new URL(url);
    return [...this.jar.values()]
      .filter((c) => c.host === host && (pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  private store(url: string, header: string): void {
    const [pair, ...attributes] = header.split(';').map((part) => part.trim());
    const index = pair!.indexOf('=');
    const name = pair!.slice(0, index);
    const value = pair!.slice(index + 1);
    const host = new URL(url).host;
    let path = '/';
    let expired = false;
    for (const attribute of attributes) {
      const [key, val] = attribute.split('=');
      if (key!.toLowerCase() === 'path' && val) path = val;
      if (key!.toLowerCase() === 'expires' && val && new Date(val).getTime() < Date.now()) expired = true;
      if (key!.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
    }
    const key = `${host}|${path}|${name}`;
    if (expired || value === '') this.jar.delete(key);
    else this.jar.set(key, { name, value, host, path });
  }
}

/** The form whose action contains `actionContains`; without it, the page's main form (the first that is not a journey's Back link). */
export function findForm(page: Page, actionContains?: string): Form {
  const forms = parseForms(page.html);
  const form = actionContains ? forms.find((f) => f.action.includes(actionContains)) : (forms.find((f) => !f.action.endsWith('/back')) ?? forms[0]);
  if (!form) throw new Error(`no form${actionContains ? ` with action containing "${actionContains}"` : ''} on ${page.url} (status ${page.status}):\n${page.html.slice(0, 3000)}`);
  return form;
}

export function parseForms(html: string): Form[] {
  const forms: Form[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attributes = parseAttributes(match[1]!);
    const inner = match[2]!;
    const fields: Record<string, string> = {};
    for (const input of inner.matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttributes(input[1]!);
      if (!a.name) continue;
      const type = (a.type ?? 'text').toLowerCase();
      if (type === 'submit' || type === 'button') continue;
      if ((type === 'checkbox' || type === 'radio') && !('checked' in a)) continue;
      fields[a.name] = a.value ?? (type === 'checkbox' ? 'on' : '');
    }
    const buttons = [...inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map((b) => {
      const a = parseAttributes(b[1]!);
      return { name: a.name, value: a.value, text: b[2]!.replace(/<[^>]+>/g, '').trim() };
    });
    forms.push({ action: attributes.action ?? '', method: attributes.method ?? 'GET', fields, buttons });
  }
  return forms;
}

function parseAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of text.matchAll(/([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attributes[match[1]!.toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '');
  }
  return attributes;
}

export function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Visible text of a page (tags stripped, whitespace collapsed): for asserting on what a person reads. */
export function pageText(page: Page): string {
  return decodeEntities(page.html.replace(/<script[\s\S]*?<\/script>/gi, '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
}
