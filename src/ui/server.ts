/**
 * `git flor ui`'s local server: the page, its assets from npm packages, and a JSON API that is a
 * client of the query engine (the same rows `--format json` prints). Nothing here pivots, filters
 * or sorts on its own.
 *
 * Security: the server answers only requests that carry the token (first as `?token=`, then as an
 * HttpOnly SameSite=Strict cookie) and whose Host header names the bound address, `localhost` or
 * 127.0.0.1 at the bound port. The Host check stops DNS rebinding (a hostile page whose name
 * resolves to 127.0.0.1 sends its own Host); the token stops other local users and pages.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlorError } from '../errors.js';
import type { RepoInfo } from '../store/git.js';
import { api } from './api.js';
import { Hindsight } from './hindsight.js';
import { historyStamp } from '../store/live.js';

export interface UiOptions {
  repo: RepoInfo;
  /** Address to bind; 127.0.0.1 unless the user names another. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
  /** How often the event stream looks for a changed history (ms); tests look more often. */
  stampMs?: number;
}

export interface UiServer {
  /** The URL to open, token included. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const STATIC = fileURLToPath(new URL('../../src/ui/static/', import.meta.url));
const UPLOT = dirname(fileURLToPath(import.meta.resolve('uplot')));

/** Path -> file and type: the only files the server ever reads for the page. */
const ASSETS: Record<string, [string, string]> = {
  '/': [join(STATIC, 'index.html'), 'text/html; charset=utf-8'],
  '/static/app.js': [join(STATIC, 'app.js'), 'text/javascript; charset=utf-8'],
  '/static/app.css': [join(STATIC, 'app.css'), 'text/css; charset=utf-8'],
  '/vendor/uplot.js': [join(UPLOT, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
  '/vendor/uplot.css': [join(UPLOT, 'uPlot.min.css'), 'text/css; charset=utf-8'],
};

/** How often the event stream looks for a changed history: a live run shows within 1 s. */
const STAMP_MS = 500;

const SECURITY_HEADERS = {
  // Everything the page needs comes from this server: no CDN, no web font, no inline script.
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...SECURITY_HEADERS, ...extra });
  res.end(body);
}

/** A request body of at most 64 KiB, as JSON. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > 1 << 16) {
        reject(new FlorError('BAD_REQUEST', 'request body over 64 KiB'));
        req.destroy();
      } else parts.push(d);
    });
    req.on('end', () => {
      try {
        resolve(size ? JSON.parse(Buffer.concat(parts).toString('utf8')) : null);
      } catch {
        reject(new FlorError('BAD_REQUEST', 'request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** Host header values this server answers to. */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', host.includes(':') ? `[${host}]` : host]);
  if (host === '::1') names.add('[::1]');
  return new Set([...names].map((n) => `${n}:${port}`));
}

export async function startUi(opts: UiOptions): Promise<UiServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(24).toString('base64url');
  let hosts = new Set<string>();
  const wildcard = host === '0.0.0.0' || host === '::';
  let cookie = '';
  const sockets = new Set<import('node:net').Socket>();
  const listeners = new Set<(event: string, data: string) => void>();
  const broadcast = (event: string, data: string) => {
    for (const l of listeners) l(event, data);
  };
  const hindsight = new Hindsight(opts.repo, () => broadcast('replay', JSON.stringify(hindsight.job)));

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const bad = e instanceof FlorError;
      if (!res.headersSent) send(res, bad ? 400 : 500, 'application/json', JSON.stringify({ error: { code: bad ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) } }));
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Bound to every address on purpose (--host 0.0.0.0), the server is reached by names it cannot
    // know: the token is then the only guard, as docs/ui.md warns.
    if (!wildcard && !hosts.has((req.headers.host ?? '').toLowerCase())) {
      send(res, 403, 'text/plain; charset=utf-8', 'git flor ui: this server answers only to its own address\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const given = url.searchParams.get('token');
    if (given !== null) {
      if (!sameToken(given, token)) {
        send(res, 401, 'text/plain; charset=utf-8', 'git flor ui: wrong token; open the URL `git flor ui` printed\n');
        return;
      }
      // The token moves into a cookie and out of the address bar (and the browser's history).
      url.searchParams.delete('token');
      const rest = url.searchParams.toString();
      send(res, 303, 'text/plain; charset=utf-8', '', {
        Location: url.pathname + (rest ? `?${rest}` : ''),
        'Set-Cookie': `${cookie}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      return;
    }
    const held = cookieToken(req, cookie);
    if (held === null || !sameToken(held, token)) {
      send(res, 401, 'text/plain; charset=utf-8', 'git flor ui: no access token; open the URL `git flor ui` printed\n');
      return;
    }
    if (url.pathname === '/api/events') {
      events(req, res);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      let body: unknown = null;
      if (req.method === 'POST') {
        // JSON only: a cross-site form cannot send this content type without a CORS preflight.
        if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
          send(res, 415, 'application/json', JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'send JSON (Content-Type: application/json)' } }));
          return;
        }
        body = await readJson(req);
      }
      const r = await api(opts.repo, req.method ?? 'GET', url, body, hindsight);
      if (r.body instanceof Uint8Array) send(res, r.status, 'application/octet-stream', r.body);
      else send(res, r.status, 'application/json; charset=utf-8', JSON.stringify(r.body));
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, SECURITY_HEADERS).end();
      return;
    }
    const asset = Object.hasOwn(ASSETS, url.pathname) ? ASSETS[url.pathname] : undefined;
    if (!asset || req.method !== 'GET') {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    send(res, 200, asset[1], await readFile(asset[0]));
  }

  /**
   * Server-sent events: `change` whenever a ledger moves or a journal grows (checked twice a
   * second from the filesystem), so a live run's rows and curves grow without the page polling.
   */
  function events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', ...SECURITY_HEADERS });
    let last = historyStamp(opts.repo);
    let n = 0;
    res.write(`event: hello\ndata: ${n}\n\n`);
    const listener = (event: string, data: string) => res.write(`event: ${event}\ndata: ${data}\n\n`);
    listeners.add(listener);
    const tick = setInterval(() => {
      const now = historyStamp(opts.repo);
      if (now !== last) {
        last = now;
        res.write(`event: change\ndata: ${++n}\n\n`);
      }
    }, opts.stampMs ?? STAMP_MS);
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      listeners.delete(listener);
      clearInterval(tick);
      clearInterval(beat);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new FlorError('PORT_IN_USE', `port ${opts.port} on ${host} is taken`, { hint: 'choose another with --port, or --port 0 for any free one' })
          : new FlorError('UI_LISTEN', `cannot listen on ${host}:${opts.port ?? 0}: ${e.message}`, { hint: 'check --host and --port' }),
      ),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as import('node:net').AddressInfo).port;
  hosts = allowedHosts(host, port);
  // Cookies are shared by every port of a host: a name per port keeps two servers' tokens apart.
  cookie = `flor_ui_${port}`;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
