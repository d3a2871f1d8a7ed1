import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import request from 'supertest';
import WebSocket from 'ws';
import { migratedDatabase } from '../support/app';
import {
  cleanEngine,
  containersOf,
  enroll,
  newCourse,
  newRig,
  newTemplate,
  newUser,
  randomDeployment,
  readProgress,
  tokenFor,
  until,
} from '../support/labs';
import { env } from '../support/services';
import { startSsoPortal, type BrowserSession, type SsoPortal } from '../support/sso';
import { User } from '../../api/src/modules/users/user.entity';

/**
 * Path, encoding, smuggling, Host and WebSocket tricks against the notebook proxy: with alice's
 * credentials, nothing may ever reach bob's Jupyter. Bob keeps a file whose name and content only his
 * server can show; every trick carries a marker that bob's Jupyter would log if the request got there.
 * Alice is the development IdP's `student`, signed in through SAML, so her browser cookie is tried too.
 */
describe('notebook proxy under path and protocol tricks', () => {
  const deployment = randomDeployment();
  const secretName = `bob-secret-${randomBytes(4).toString('hex')}.txt`;
  const secretText = `only-bob-${randomBytes(8).toString('hex')}`;
  const marker = `probe${randomBytes(4).toString('hex')}`;
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: SsoPortal;
  let aliceSession: BrowserSession;
  let aliceToken: string;
  let bobToken: string;
  let bobKernel: string;
  let port: number;

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startSsoPortal({
      DATABASE_URL: db.url,
      DEPLOYMENT_ID: deployment,
      LAUNCH_TIMEOUT_S: '90',
      RECONCILE_INTERVAL_S: '3600',
      CULL_INTERVAL_S: '3600',
    });
    port = Number(new URL(portal.url).port);
    const course = await newCourse(db.ds, 'CS101', '2026F');
    aliceSession = await portal.signIn('student');
    const alice = await db.ds.getRepository(User).findOneByOrFail({ username: 'student' });
    const bob = await newUser(db.ds, 'bob');
    await enroll(db.ds, bob, course);
    const template = await newTemplate(db.ds, course);
    await newRig(db.ds, 'rig-a', env.dockerHost);
    aliceToken = await tokenFor(portal, alice);
    bobToken = await tokenFor(portal, bob);
    for (const token of [aliceToken, bobToken]) {
      const res = await request(portal.url)
        .post('/api/labs')
        .set('Authorization', `Bearer ${token}`)
        .send({ templateId: template.id });
      expect(res.status).toBe(202);
      const events = await readProgress(portal, res.body.id, token);
      expect(events[events.length - 1]).toMatchObject({ ready: true });
    }
    const put = await request(portal.url)
      .put(`/user/bob/python-basics/api/contents/${secretName}`)
      .set('Authorization', `Bearer ${bobToken}`)
      .send({ type: 'file', format: 'text', content: secretText });
    expect(put.status).toBe(201);
    const kernel = await request(portal.url)
      .post('/user/bob/python-basics/api/kernels')
      .set('Authorization', `Bearer ${bobToken}`)
      .send({ name: 'python3' });
    expect(kernel.status).toBe(201);
    bobKernel = kernel.body.id;
  }, 240_000);

  afterAll(async () => {
    await portal?.close();
    await cleanEngine(env.dockerHost, deployment);
    await db?.drop();
  });

  /** Sends bytes as they are (no client-side normalisation) and returns everything the portal answers. */
  function raw(bytes: string, waitMs = 3000): Promise<string> {
    return new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write(bytes));
      let out = '';
      const done = () => resolve(out);
      s.on('data', (c) => (out += c.toString('latin1')));
      s.on('close', done);
      s.on('error', done);
      s.setTimeout(waitMs, () => s.destroy());
    });
  }
  const statuses = (answer: string) => [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  const get = (path: string, extra = '') =>
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${aliceToken}\r\n${extra}Connection: close\r\n\r\n`;
  const withMarker = (p: string) => `${p}${p.includes('?') ? '&' : '?'}${marker}=1`;

  async function bobsJupyterLog(): Promise<string> {
    const docker = new Docker({ socketPath: env.dockerHost.replace('unix://', '') });
    const [c] = (await containersOf(env.dockerHost, deployment)).filter(
      (x) => x.Labels['org.riglab.user'] === 'bob' || x.Names.some((n) => n.includes('bob')),
    );
    expect(c).toBeDefined();
    return (await docker.getContainer(c.Id).logs({ stdout: true, stderr: true })).toString('latin1');
  }

  it('lets alice see her own lab and bob see his secret (the checks below can tell who answered)', async () => {
    const mine = await raw(get('/user/student/python-basics/api/contents'));
    expect(statuses(mine)).toEqual([200]);
    expect(mine).not.toContain(secretName);
    expect(mine).toMatch(/\r\nServer: TornadoServer/i); // how the tricks below tell Jupyter's answers apart
    // Her browser session opens her own lab, and only hers.
    const byCookie = (path: string) => request(portal.url).get(path).set('Cookie', aliceSession.cookie);
    expect((await byCookie('/user/student/python-basics/api/contents')).status).toBe(200);
    const refused = await byCookie(withMarker(`/user/bob/python-basics/api/contents/${secretName}`));
    expect([refused.status, refused.text.includes(secretText)]).toEqual([403, false]);
    const his = await request(portal.url)
      .get(`/user/bob/python-basics/api/contents/${secretName}`)
      .set('Authorization', `Bearer ${bobToken}`);
    expect([his.status, his.body.content]).toEqual([200, secretText]);
    // Bob's Jupyter logs refused requests with their address: what the marker check relies on.
    await request(portal.url)
      .get(`/user/bob/python-basics/api/nope?${marker}bob=1`)
      .set('Authorization', `Bearer ${bobToken}`);
    // Jupyter writes its log line a moment after it answers.
    const log = await until(bobsJupyterLog, (l) => l.includes(`${marker}bob=1`), 15_000, 200);
    expect(log).toContain(`${marker}bob=1`);
  });

  it('never serves bob’s lab to alice through path and encoding tricks', async () => {
    const own = withMarker.bind(null);
    const tricks = [
      '/user/bob/python-basics/api/contents',
      '/user/student/../bob/python-basics/api/contents',
      '/user/student/python-basics/../../bob/python-basics/api/contents',
      '/user/student/%2e%2e/bob/python-basics/api/contents',
      '/user/student/python-basics/%2e%2e/%2e%2e/bob/python-basics/api/contents',
      '/user/student/python-basics/..%2F..%2Fbob%2Fpython-basics%2Fapi%2Fcontents',
      '/user/student%2F..%2Fbob/python-basics/api/contents',
      '/user/student/python-basics/%252e%252e/%252e%252e/bob/python-basics/api/contents',
      '/user/student/python-basics/..\\..\\bob\\python-basics\\api\\contents',
      '/user/student\\..\\bob/python-basics/api/contents',
      '//user/bob/python-basics/api/contents',
      '/user//bob/python-basics/api/contents',
      '/user/BOB/python-basics/api/contents',
      '/USER/bob/python-basics/api/contents',
      '/user/bob./python-basics/api/contents',
      '/user/bob/python-basics./api/contents',
      '/user/bob%2Fpython-basics/api/contents',
      '/user/%62ob/python-basics/api/contents',
      '/user/bob%00/python-basics/api/contents',
      '/user/student/python-basics/api/contents/../../../../bob/python-basics/api/contents',
      `/user/student/python-basics/api/contents/..%2F..%2F..%2F..%2Fbob%2Fpython-basics%2Fapi%2Fcontents%2F${secretName}`,
      `/user/bob/python-basics/files/${secretName}`,
      `/user/bob/python-basics/api/contents/${secretName}?token=${aliceToken}`,
    ];
    const seen: string[] = [];
    for (const path of tricks) {
      const answer = await raw(get(own(path)));
      const [status] = statuses(answer);
      seen.push(`${status}`);
      // A 404 may echo the asked-for path back: the file's name counts only where the path lacks it.
      const leaked = answer.includes(secretText) || (!path.includes(secretName) && answer.includes(secretName));
      expect([path, leaked]).toEqual([path, false]);
      // Only alice's own Jupyter (Tornado) may answer, and only for addresses under her lab.
      const jupyter = /\r\nServer: TornadoServer/i.test(answer);
      if (jupyter) expect(path).toMatch(/^\/user\/student\/python-basics\//);
      expect([path, status >= 200 && status < 500]).toEqual([path, true]);
    }
    console.log(`proxy tricks: ${tricks.length} path/encoding tricks answered ${seen.join(' ')}; none reached bob`);
    expect(await bobsJupyterLog()).not.toContain(`${marker}=`);
  });

  it('never lets a smuggled or pipelined request, or a Host game, reach bob’s lab', async () => {
    const host = `127.0.0.1:${port}`;
    const hidden = `GET ${withMarker('/user/bob/python-basics/api/contents')} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${aliceToken}\r\n\r\n`;
    const cases: Array<[string, string]> = [
      [
        'CL and TE both',
        `POST ${withMarker('/user/student/python-basics/api/contents')} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${aliceToken}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`,
      ],
      [
        'two Content-Lengths',
        `POST ${withMarker('/user/student/python-basics/api/contents')} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${aliceToken}\r\nContent-Length: 0\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`,
      ],
      [
        'obfuscated TE',
        `POST ${withMarker('/user/student/python-basics/api/contents')} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${aliceToken}\r\nTransfer-Encoding: xchunked\r\nContent-Length: 0\r\n\r\n${hidden}`,
      ],
      [
        'pipelined after alice’s own request',
        `GET /user/student/python-basics/api/status HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${aliceToken}\r\n\r\n${hidden}`,
      ],
      [
        'X-Forwarded-Host',
        get(
          withMarker('/user/student/python-basics/../../bob/python-basics/api/contents'),
          'X-Forwarded-Host: bob\r\n',
        ),
      ],
      ['Host: bob', hidden.replace(`Host: ${host}`, 'Host: bob').replace('/user/bob/', '/user/student/../bob/')],
      ['absolute form', get(withMarker(`http://${host}/user/bob/python-basics/api/contents`))],
      ['absolute form, other host', get(withMarker('http://bob/user/bob/python-basics/api/contents'))],
      [
        'absolute form via alice',
        get(withMarker(`http://${host}/user/student/python-basics/../../bob/python-basics/api/contents`)),
      ],
      [
        'X-Original-URL',
        get(
          withMarker('/user/student/python-basics/api/contents'),
          'X-Original-URL: /user/bob/python-basics/api/contents\r\nX-Rewrite-URL: /user/bob/python-basics/api/contents\r\n',
        ),
      ],
    ];
    const seen: string[] = [];
    for (const [name, bytes] of cases) {
      const answer = await raw(bytes);
      seen.push(`${name}=${statuses(answer).join('+') || 'closed'}`);
      expect([name, answer.includes(secretName) || answer.includes(secretText)]).toEqual([name, false]);
      expect([name, statuses(answer).some((s) => s >= 500)]).toEqual([name, false]);
    }
    console.log(`proxy tricks: smuggling and Host games ${seen.join(', ')}; none reached bob`);
    expect(await bobsJupyterLog()).not.toContain(`${marker}=`);
  });

  it('refuses alice a WebSocket to bob’s kernel, by token in the header, in the query, or through her own lab', async () => {
    const upgrade = (path: string, headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => resolve(0));
      });
    const channels = `api/kernels/${bobKernel}/channels`;
    const attempts: Array<[string, string, Record<string, string>]> = [
      ['header', withMarker(`/user/bob/python-basics/${channels}`), { Authorization: `Bearer ${aliceToken}` }],
      ['query', `/user/bob/python-basics/${channels}?token=${aliceToken}&${marker}=1`, {}],
      ['her session cookie', withMarker(`/user/bob/python-basics/${channels}`), { Cookie: aliceSession.cookie }],
      ['a forged cookie', withMarker(`/user/bob/python-basics/${channels}`), { Cookie: `riglab.sid=${aliceToken}` }],
      [
        'via her lab',
        withMarker(`/user/student/python-basics/../../bob/python-basics/${channels}`),
        { Authorization: `Bearer ${aliceToken}` },
      ],
      [
        'encoded',
        withMarker(`/user/student/python-basics/%2e%2e/%2e%2e/bob/python-basics/${channels}`),
        { Authorization: `Bearer ${aliceToken}` },
      ],
      [
        'her kernel path, his id',
        withMarker(`/user/student/python-basics/${channels}`),
        { Authorization: `Bearer ${aliceToken}` },
      ],
    ];
    const seen: string[] = [];
    for (const [name, path, headers] of attempts) {
      const status = await upgrade(path, headers);
      seen.push(`${name}=${status}`);
      expect([name, status]).not.toEqual([name, 101]);
    }
    console.log(`proxy tricks: WebSocket attempts ${seen.join(', ')}`);
    // Bob's own WebSocket still opens: the refusals above are about alice, not a broken proxy.
    expect(await upgrade(`/user/bob/python-basics/${channels}`, { Authorization: `Bearer ${bobToken}` })).toBe(101);
    expect(await bobsJupyterLog()).not.toContain(`${marker}=`);
  });
});
