import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { scopesFor } from '../../api/src/modules/auth/scopes';
import { TokensService } from '../../api/src/modules/auth/tokens.service';
import type { User } from '../../api/src/modules/users/user.entity';
import { migratedDatabase, startPortal, testConfig, type TestPortal } from '../support/app';
import { enroll, newCourse, newRig, newTemplate, newUser } from '../support/labs';
import { env } from '../support/services';

/**
 * API fuzzing: requests generated from the portal's own OpenAPI document (every route, every method),
 * with wrong types, odd path parameters, malformed bodies and oversized headers, sent signed out, as a
 * student and as an admin. No answer may be a 5xx, every 4xx must be a JSON message without a stack,
 * and the portal must still be healthy afterwards. Seeded: RIGLAB_FUZZ_SEED=<n> replays a run.
 */

const TOTAL = Number(process.env.RIGLAB_FUZZ_REQUESTS ?? 10_000);
const SEED = Number(process.env.RIGLAB_FUZZ_SEED ?? 20261204); // fixed in CI; any other seed explores
const CONCURRENCY = 12;

/** mulberry32: small, fast, and the same sequence for the same seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Schema = {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  required?: string[];
  format?: string;
};
type Operation = {
  parameters?: Array<{ name: string; in: string; schema?: Schema }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
};
type OpenApi = { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> } };

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  who: string;
}

interface Answer {
  status: number;
  body: string;
  contentType: string;
}

describe('API fuzzing from the OpenAPI document', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: TestPortal;
  let doc: OpenApi;
  const tokens: Record<string, string | null> = { anonymous: null };
  const realIds: string[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startPortal(testConfig({ DATABASE_URL: db.url, RUN_WORKERS: 'false' }));
    const course = await newCourse(db.ds);
    const student: User = await newUser(db.ds, 'fuzzy', 'student');
    const staff: User = await newUser(db.ds, 'stella', 'staff');
    const admin: User = await newUser(db.ds, 'root', 'admin');
    await enroll(db.ds, student, course);
    await enroll(db.ds, staff, course, 'instructor');
    const template = await newTemplate(db.ds, course);
    const rig = await newRig(db.ds, 'rig-fuzz', env.dockerHost);
    realIds.push(course.id, template.id, rig.id, student.id, staff.id);
    const t = portal.app.get(TokensService);
    for (const [who, u] of [
      ['student', student],
      ['staff', staff],
      ['admin', admin],
    ] as const)
      tokens[who] = (await t.create(u, { scopes: [...scopesFor(u.campusRole)] })).token;
    doc = JSON.parse(
      (await send({ method: 'GET', path: '/api/docs/openapi.json', headers: {}, who: 'anonymous' })).body,
    );
  }, 120_000);

  afterAll(async () => {
    agent.destroy();
    await portal?.close();
    await db?.drop();
  });

  function send(r: Sent): Promise<Answer> {
    return new Promise((resolve) => {
      const url = new URL(portal.url);
      const headers: Record<string, string> = { ...r.headers };
      if (tokens[r.who]) headers.authorization = `Bearer ${tokens[r.who]}`;
      if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
      let req: ReturnType<typeof httpRequest>;
      try {
        req = httpRequest(
          { host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent, timeout: 30_000 },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString('utf8'),
                contentType: String(res.headers['content-type'] ?? ''),
              }),
            );
            res.on('error', () => resolve({ status: -1, body: 'response error', contentType: '' }));
          },
        );
      } catch (err) {
        return resolve({ status: -2, body: `not sent: ${(err as Error).message}`, contentType: '' });
      }
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => resolve({ status: -1, body: err.message, contentType: '' }));
      req.end(r.body);
    });
  }

  it('answers 10,000 generated and malformed requests with no 5xx and no stack trace', async () => {
    const rand = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const schemas = doc.components?.schemas ?? {};
    const deref = (s: Schema | undefined): Schema | undefined => (s?.$ref ? schemas[s.$ref.split('/').pop()!] : s);

    const oddIds = [
      () => pick(realIds),
      () => '00000000-0000-4000-8000-000000000000',
      () => 'not-a-uuid',
      () => '..',
      () => '%2e%2e',
      () => '%00',
      () => 'a%00b',
      () => '%ff%fe',
      () => 'x'.repeat(3000),
      () => '-1',
      () => '0',
      () => '1e309',
      () => 'null',
      () => '%F0%9F%92%A9',
      () => "1'%20OR%20'1'='1",
      () => '%252e%252e',
      () => 'CON',
    ];
    const weird = (): unknown =>
      pick<() => unknown>([
        () => null,
        () => -1,
        () => 1e308,
        () => Number.MAX_SAFE_INTEGER * 10,
        () => 3.5,
        () => true,
        () => '',
        () => 'x'.repeat(Math.floor(rand() * 200_000)),
        () => '\u0000\ud800',
        () => [],
        () => [1, 'a', null],
        () => ({}),
        () => ({ $gt: '' }),
        () => ({ __proto__: { admin: true } }),
        () => pick(realIds),
        () => '2026-13-45T99:99:99Z',
      ])();
    const valueFor = (s0: Schema | undefined, depth = 0): unknown => {
      const s = deref(s0);
      if (!s || rand() < 0.25 || depth > 3) return weird();
      if (s.enum) return rand() < 0.8 ? pick(s.enum) : 'not-in-enum';
      switch (s.type) {
        case 'string':
          return s.format === 'uuid' || rand() < 0.3 ? pick(realIds) : pick(['a', 'CS101', '2026F', 'x'.repeat(300)]);
        case 'integer':
        case 'number':
          return pick([0, 1, 60, -5, 2 ** 40]);
        case 'boolean':
          return rand() < 0.5;
        case 'array':
          return Array.from({ length: Math.floor(rand() * 4) }, () => valueFor(s.items, depth + 1));
        default: {
          const o: Record<string, unknown> = {};
          for (const [k, p] of Object.entries(s.properties ?? {})) if (rand() < 0.8) o[k] = valueFor(p, depth + 1);
          if (rand() < 0.2) o[`extra${Math.floor(rand() * 9)}`] = weird();
          return o;
        }
      }
    };
    const enc = (v: string) => {
      try {
        return encodeURIComponent(v);
      } catch {
        return '%ED%A0%80'; // a lone surrogate, as raw bytes
      }
    };
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const malformed: Array<() => { body: string | Buffer; type: string }> = [
      () => ({ body: '{"templateId": ', type: 'application/json' }),
      () => ({ body: '{"a":1}', type: 'text/plain' }),
      () => ({ body: '<xml/>', type: 'application/xml' }),
      () => ({ body: 'a=1&b[c]=2&b[c]=3', type: 'application/x-www-form-urlencoded' }),
      () => ({ body: deep(5000), type: 'application/json' }),
      () => ({ body: `{"a":"${'x'.repeat(2_000_000)}"}`, type: 'application/json' }),
      () => ({ body: Buffer.from([0xff, 0xfe, 0x00, 0x7b]), type: 'application/json' }),
      () => ({ body: 'null', type: 'application/json' }),
      () => ({ body: '"just a string"', type: 'application/json' }),
      () => ({ body: '[1,2,3]', type: 'application/json' }),
      () => ({ body: '{"__proto__":{"isAdmin":true}}', type: 'application/json' }),
      () => ({
        body: '--x\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--x--',
        type: 'multipart/form-data',
      }),
      () => ({ body: '{"a":1}', type: 'application/json; charset=utf-42' }),
    ];

    const ops: Array<{ method: string; path: string; op: Operation }> = [];
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item))
        if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) ops.push({ method, path, op });
    expect(ops.length).toBeGreaterThan(20);

    const who = ['anonymous', 'student', 'staff', 'admin'];
    const covered = new Set<string>();
    const generate = (): Sent => {
      const { method, path, op } = pick(ops);
      covered.add(`${method} ${path}`);
      let p = path.replace(/\{[^}]+\}/g, () => (rand() < 0.3 ? pick(realIds) : pick(oddIds)()));
      const query = (op.parameters ?? [])
        .filter((q) => q.in === 'query' && rand() < 0.7)
        .map((q) => `${encodeURIComponent(q.name)}=${enc(String(valueFor(q.schema)).slice(0, 4000))}`);
      if (rand() < 0.1) query.push(pick(['a[b]=1', 'a[]=1&a[]=2', '%zz', 'limit=-1', 'cursor=%00']));
      if (query.length) p += `?${query.join('&')}`;
      const headers: Record<string, string> = { accept: 'application/json' };
      const r: Sent = { method: method.toUpperCase(), path: p, headers, who: pick(who) };
      const roll = rand();
      if (roll < 0.12) {
        const m = pick(malformed)();
        r.body = m.body;
        headers['content-type'] = m.type;
      } else if (roll < 0.16) {
        headers['x-fuzz'] = 'h'.repeat(20_000 + Math.floor(rand() * 20_000)); // over Node's 16 KiB header limit
      } else if (roll < 0.2 && r.who !== 'anonymous') {
        headers.authorization = pick([
          'Bearer ',
          'Bearer x',
          `Bearer ${'t'.repeat(5000)}`,
          'Basic Zm9vOmJhcg==',
          'Bearer \u00ff',
        ]);
        r.who = 'anonymous';
      } else if (method !== 'get' && method !== 'delete') {
        const schema = Object.values(op.requestBody?.content ?? {})[0]?.schema;
        r.body = JSON.stringify(valueFor(schema));
        headers['content-type'] = 'application/json';
      }
      return r;
    };

    const counts = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < TOTAL) {
        next++;
        const r = generate();
        const a = await send(r);
        counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
        const what = `${r.who} ${r.method} ${r.path.slice(0, 120)} [${r.headers['content-type'] ?? ''} ${String(r.body ?? '').slice(0, 40)}] → ${a.status} ${a.body.slice(0, 160)}`;
        if (a.status >= 500 || a.status < 0) failures.push(what);
        else if (a.status >= 400) {
          let message: unknown;
          try {
            message = JSON.parse(a.body).message;
          } catch {
            message = undefined;
          }
          if (typeof message !== 'string' && !Array.isArray(message)) failures.push(`not a JSON message: ${what}`);
          if (/\n\s+at |node_modules|QueryFailedError|\.ts:\d+/.test(a.body)) failures.push(`leaks a stack: ${what}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (Date.now() - started) / 1000;

    const byStatus = [...counts.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`);
    console.log(`fuzz: seed ${SEED}, ${TOTAL} requests over ${ops.length} operations in ${seconds.toFixed(1)} s`);
    console.log(`fuzz: responses by status ${byStatus.join(' ')}`);
    console.log(
      `fuzz: ${failures.length} failures${failures.length ? `, first: ${failures.slice(0, 5).join(' | ')}` : ''}`,
    );
    expect(failures.slice(0, 20)).toEqual([]);
    expect(covered.size).toBe(ops.length);

    const health = await send({ method: 'GET', path: '/api/health', headers: {}, who: 'anonymous' });
    expect(health.status).toBe(200);
  }, 600_000);

  it('answers the inputs that once made 500s with a 4xx that says what is wrong', async () => {
    const json = { 'content-type': 'application/json' };
    const cases: Array<[Sent, number, RegExp]> = [
      [{ method: 'POST', path: '/api/courses', headers: json, body: '{"code": ', who: 'admin' }, 400, /JSON/],
      [
        { method: 'POST', path: '/api/courses', headers: json, body: `{"a":"${'x'.repeat(2_000_000)}"}`, who: 'admin' },
        413,
        /too large/,
      ],
      [
        {
          method: 'POST',
          path: '/api/courses',
          headers: json,
          body: '['.repeat(5000) + ']'.repeat(5000),
          who: 'admin',
        },
        400,
        /nested too deeply/,
      ],
      [{ method: 'GET', path: '/api/rigs/a%00b', headers: {}, who: 'admin' }, 400, /NUL character/],
      [
        {
          method: 'POST',
          path: '/api/tokens',
          headers: json,
          body: JSON.stringify({ name: 'a\u0000b' }),
          who: 'student',
        },
        400,
        /NUL character/,
      ],
    ];
    for (const [r, status, message] of cases) {
      const a = await send(r);
      expect([r.path, a.status, JSON.parse(a.body).message]).toEqual([r.path, status, expect.stringMatching(message)]);
    }
    // A null drain deadline means "the default", not a crash.
    const rig = await send({
      method: 'POST',
      path: '/api/rigs/rig-fuzz/state',
      headers: json,
      body: JSON.stringify({ to: 'maintenance', reason: 'fan', deadline: null }),
      who: 'admin',
    });
    expect(rig.status).toBeLessThan(300);
  });

  it('answers a request line and headers the parser cannot read with a 4xx, and keeps serving', async () => {
    const url = new URL(portal.url);
    const raw = (bytes: string) =>
      new Promise<string>((resolve) => {
        const s = connect(Number(url.port), url.hostname, () => s.end(bytes));
        let out = '';
        s.on('data', (c) => (out += c.toString('latin1')));
        s.on('close', () => resolve(out));
        s.on('error', () => resolve(out));
        s.setTimeout(10_000, () => s.destroy());
      });
    const answers = [
      await raw('GARBAGE\r\n\r\n'),
      await raw('GET /api/health HTTP/9.9\r\nHost: x\r\n\r\n'),
      await raw('GET /api/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'),
      await raw(`GET /api/${'%'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      await raw(`GET /api/health HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(70_000)}\r\n\r\n`),
    ];
    const statuses = answers.map((a) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(a)?.[1] ?? 0));
    const messages = answers.map((a) => {
      try {
        return JSON.parse(a.slice(a.indexOf('\r\n\r\n') + 4)).message as string;
      } catch {
        return undefined;
      }
    });
    expect(messages.every((m) => typeof m === 'string' && m.length > 0)).toBe(true);
    console.log(`fuzz: unparseable requests answered ${statuses.join(' ')}`);
    for (const s of statuses) expect(s >= 400 && s < 500).toBe(true);
    expect((await send({ method: 'GET', path: '/api/health', headers: {}, who: 'anonymous' })).status).toBe(200);
  }, 60_000);
});
