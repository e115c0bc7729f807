/** Runs the terminal client (dist/cli/client.js) as a child process and reads its JSON lines. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLIENT = fileURLToPath(new URL('../../dist/cli/client.js', import.meta.url));

export type Line = Record<string, unknown> & { type: string };

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class Terminal {
  /** Every line printed on stdout so far, parsed (a line that is not JSON fails the wait). */
  readonly lines: Line[] = [];
  readonly exited: Promise<Exit>;
  private stderrText = '';
  private waiters: (() => void)[] = [];
  private done = false;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.on('data', (chunk: Buffer) => (this.stderrText += chunk.toString()));
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        line = { type: 'not-json', text };
      }
      this.lines.push(line);
      this.wake();
    });
    // 'close' comes after stdout has ended, so every line is in by then.
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.done = true;
        this.wake();
        resolve({ code, signal });
      }),
    );
  }

  static start(args: string[]): Terminal {
    return new Terminal(spawn(process.execPath, [CLIENT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** Starts a client on `url` in `room` as `name`. */
  static join(url: string, room: string, name: string): Terminal {
    return Terminal.start(['--url', url, '--room', room, '--name', name]);
  }

  /** Starts a client, writes `input` lines, ends stdin and waits for it to exit. */
  static async run(url: string, room: string, name: string, input: string[]): Promise<{ exit: Exit; lines: Line[]; stderr: string }> {
    const t = Terminal.join(url, room, name);
    for (const line of input) t.write(line);
    t.end();
    const exit = await t.exited;
    return { exit, lines: t.lines, stderr: t.stderr };
  }

  get stderr(): string {
    return this.stderrText;
  }

  write(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  end(): void {
    this.child.stdin.end();
  }

  /** The first line so far or to come that matches; rejects if the client exits without printing one. */
  async waitFor<T extends Line = Line>(predicate: (line: Line) => boolean, what = 'a matching line'): Promise<T> {
    for (;;) {
      const found = this.lines.find(predicate);
      if (found) return found as T;
      if (this.done) {
        throw new Error(`client exited without printing ${what}; stdout: ${JSON.stringify(this.lines)}; stderr: ${this.stderrText}`);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Kills the client if it is still running (for afterAll). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
