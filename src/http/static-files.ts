/**
 * The files under public/, read once into memory with their content type and a
 * strong ETag. URLs are looked up in that table and never touch the file system,
 * so no path can reach outside the folder.
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

  /** The file for a URL path ("/", "/app.js"), or undefined. */
  lookup(urlPath: string): StaticFile | undefined {
    const path = urlPath.endsWith('/') ? `${urlPath}index.html` : urlPath;
    return this.files.get(path);
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
