/**
 * The files under public/, read once into memory with their content type and a
 * strong ETag. URLs are decoded once and looked up in that table; they never touch
 * the file system, so no path can reach outside the folder.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export interface StaticFile {
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * Sent with every file: the web client runs only its own script (no inline script, no
 * eval), talks only to its own host ('self' covers ws: and wss: of the same host in CSP 3),
 * may not be framed (clickjacking), and leaks no URL (room, #token=...) as a referrer.
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  [
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  ],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['X-Content-Type-Options', 'nosniff'],
];

/** What a URL path names: a file, nothing (404), or a path that does not decode (400). */
export type Lookup = StaticFile | 'malformed' | undefined;

export function contentTypeOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return (dot >= 0 && CONTENT_TYPES[path.slice(dot).toLowerCase()]) || 'application/octet-stream';
}

export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();

  /** Reads every file under `dir` (missing folder: no files). */
  constructor(dir: string) {
    let exists = false;
    try {
      exists = statSync(dir).isDirectory();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (exists) this.load(dir, dir);
  }

  get size(): number {
    return this.files.size;
  }

  /**
   * The file for a raw URL path ("/", "/app.js", "/a%20b.txt"). Each segment is decoded
   * once, as UTF-8; a bad escape is 'malformed'. A segment that decodes to "." or "..",
   * or holds "/" or NUL, names no file (no name on disk is one or holds one), so an
   * escape never moves the lookup to another folder.
   */
  lookup(urlPath: string): Lookup {
    const segments = urlPath.split('/');
    for (let i = 0; i < segments.length; i++) {
      const raw = segments[i]!;
      if (!raw.includes('%')) continue;
      let segment: string;
      try {
        segment = decodeURIComponent(raw);
      } catch (error) {
        if (error instanceof URIError) return 'malformed';
        throw error;
      }
      if (segment === '.' || segment === '..' || /[/\0]/.test(segment)) return undefined;
      segments[i] = segment;
    }
    const path = segments.join('/');
    return this.files.get(path.endsWith('/') ? `${path}index.html` : path);
  }

  private load(root: string, dir: string): void {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) this.load(root, path);
      else if (entry.isFile()) {
        const body = readFileSync(path);
        const url = `/${relative(root, path).split(sep).join('/')}`;
        const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`;
        this.files.set(url, { body, contentType: contentTypeOf(path), etag });
      }
    }
  }
}

/** True when an If-None-Match header value matches `etag` (a list, weak forms, or `*`). */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch === '') return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}
