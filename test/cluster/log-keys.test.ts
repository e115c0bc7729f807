/**
 * Log lines name each field once. JSON.parse keeps only the last of repeated keys, so the
 * lines are checked as printed: a cluster node's lines carry `component` and its own
 * `node` once each, and the line about a node it reaped names that one as `peer`.
 */
import { expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { startRedis } from '../helpers/redis.js';
import { clusterPartsPerTest } from '../helpers/cluster-parts.js';
import { waitInStep } from '../helpers/shared-host.js';

const parts = clusterPartsPerTest();

/** Keys that appear more than once in one object of a JSON text, at any depth. */
function repeatedKeys(text: string): string[] {
  const repeated: string[] = [];
  // One entry per open object (its keys so far) or array (null).
  const open: (Set<string> | null)[] = [];
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = open.at(-1);
      if (keyNext && keys) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) repeated.push(key);
        keys.add(key);
      }
      keyNext = false;
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      keyNext = true;
    } else if (c === '[') {
      open.push(null);
      keyNext = false;
    } else if (c === '}' || c === ']') {
      open.pop();
      keyNext = false;
    } else if (c === ',') {
      keyNext = open.at(-1) != null;
    }
  }
  return repeated;
}

test('repeatedKeys finds repeated keys at any depth, and not in strings or arrays', () => {
  expect(repeatedKeys('{"a":1,"b":{"a":2,"c":[{"a":1},{"a":2}]},"s":"\\"a\\":1,\\"a\\"","a":3}')).toEqual(['a']);
  expect(repeatedKeys('{"component":"main","component":"cluster","node":"x","err":{"node":"y","node":"z"}}')).toEqual(['component', 'node']);
  expect(repeatedKeys('{"a":{"b":1},"b":[1,2],"c":"{\\"a\\":1,\\"a\\":2}"}')).toEqual([]);
});

test('a node that reaps another: every line names each field once; the reaped node is `peer`', { timeout: 60_000 }, async () => {
  parts.redis = await startRedis();
  parts.hosts.push(...(await Promise.all([0, 1].map(() => startHost(['--workers', '1', '--node-ttl', '2', '--redis', parts.redis!.url])))));
  await Promise.all(parts.hosts.map((h) => waitInStep(h)));
  const [doomed, survivor] = parts.hosts as [Host, Host];
  const gone = await TestClient.connect(doomed.ws);
  const stays = await TestClient.connect(survivor.ws);
  parts.clients.push(gone, stays);
  await gone.join('logs', 'gone');
  await stays.join('logs', 'stays');
  await gone.heardJoins('logs', [gone.id]);

  await doomed.stop('SIGKILL');
  const expired = await survivor.waitForLog((l) => l.msg === 'node expired: its members were removed');
  const nodeOf = (client: TestClient): string => client.id.split('.')[0]!;
  expect(expired).toMatchObject({ component: 'cluster', node: nodeOf(stays), peer: nodeOf(gone), members: 1 });
  await survivor.stop();

  for (const host of parts.hosts) {
    expect(host.rawLogs.length).toBeGreaterThan(3);
    for (const line of host.rawLogs) expect(repeatedKeys(line), line).toEqual([]);
  }
  // Every part of the main thread says which it is; the cluster's lines also say which node.
  const components = new Set(survivor.logs.map((l) => l.component));
  expect([...components].filter((c) => c !== undefined).sort()).toEqual(['cluster', 'main']);
  for (const line of survivor.logs.filter((l) => l.component === 'cluster')) expect(line.node).toBe(nodeOf(stays));
});
