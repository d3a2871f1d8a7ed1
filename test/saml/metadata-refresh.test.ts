import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_ACCOUNTS } from '../../api/src/dev-idp/accounts';
import { DevIdentityProvider } from '../../api/src/dev-idp/dev-idp';
import { freePort, migratedDatabase } from '../support/app';
import { startSignIn, startSsoPortal, type SsoPortal } from '../support/sso';
import { until } from '../support/labs';

const student = DEV_ACCOUNTS.find((a) => a.username === 'student')!;

/**
 * A university IdP rolls its signing key: its metadata URL starts publishing the next certificate.
 * The portal reads the metadata again every SAML_IDP_METADATA_REFRESH_S and follows, without a restart.
 */
describe('IdP metadata from a URL, read again periodically', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: SsoPortal;
  let server: Server;
  // What the IdP's metadata URL answers right now, and how often it was asked.
  let answer: { status: number; body: string };
  let fetches = 0;
  let before: DevIdentityProvider;
  let after: DevIdentityProvider;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/idp`;
    // One IdP (one entity id, one address), before and after its key rollover.
    before = await DevIdentityProvider.create(base, mkdtempSync(join(tmpdir(), 'riglab-idp-a-')));
    after = await DevIdentityProvider.create(base, mkdtempSync(join(tmpdir(), 'riglab-idp-b-')));
    answer = { status: 200, body: before.metadata() };
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(answer.status, { 'Content-Type': 'application/samlmetadata+xml' }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    db = await migratedDatabase();
    portal = await startSsoPortal({
      DATABASE_URL: db.url,
      RUN_WORKERS: 'false',
      DEV_IDP: 'false',
      SAML_IDP_METADATA_URL: `${base}/metadata`,
      SAML_IDP_METADATA_REFRESH_S: '5',
    });
    const sp = await (await fetch(`${portal.url}/auth/saml/metadata`)).text();
    for (const idp of [before, after]) idp.trust(sp);
  });
  afterAll(async () => {
    await portal?.close();
    await new Promise((resolve) => server?.close(resolve));
    await db?.drop();
  });

  /** A sign-in answered by the IdP signing with the given key: the ACS status and page. */
  async function signInSignedBy(idp: DevIdentityProvider): Promise<{ status: number; html: string }> {
    const to = new URL(await startSignIn(portal.url));
    const { id } = await idp.parseRequest(Object.fromEntries(to.searchParams));
    const res = await fetch(`${portal.url}/auth/saml/acs`, {
      method: 'POST',
      body: new URLSearchParams({ SAMLResponse: await idp.loginResponse(id, student) }),
      redirect: 'manual',
    });
    return { status: res.status, html: await res.text() };
  }

  it('follows a certificate rollover without a restart, and keeps the last good metadata when the URL fails', async () => {
    expect((await signInSignedBy(before)).status).toBe(303);
    expect((await signInSignedBy(after)).status).toBe(403);

    // The IdP publishes its next certificate; within a refresh interval the new key signs people in.
    answer = { status: 200, body: after.metadata() };
    const rolledAt = Date.now();
    const rolled = await until(
      () => signInSignedBy(after),
      (r) => r.status === 303,
      20_000,
      500,
    );
    expect(rolled.status).toBe(303);
    console.log(
      `IdP certificate rollover took effect ${((Date.now() - rolledAt) / 1000).toFixed(1)} s after publishing`,
    );
    const old = await signInSignedBy(before);
    expect(old.status).toBe(403);
    expect(old.html).toMatch(/not signed by a key riglab trusts/);

    // The metadata URL fails (an error page, then garbage): sign-in goes on with the last good metadata.
    for (const broken of [
      { status: 500, body: 'Internal Server Error' },
      { status: 200, body: '<html>maintenance</html>' },
    ]) {
      answer = broken;
      const asked = fetches;
      expect(
        await until(
          async () => fetches,
          (n) => n >= asked + 2,
          20_000,
          250,
        ),
      ).toBeGreaterThanOrEqual(asked + 2);
      expect((await signInSignedBy(after)).status).toBe(303);
      expect((await signInSignedBy(before)).status).toBe(403);
    }
    const metrics = await (await fetch(`${portal.url}/metrics`)).text();
    expect(metrics).toMatch(/riglab_saml_metadata_refreshes_total\{outcome="changed"\} 1\b/);
    expect(metrics).toMatch(/riglab_saml_metadata_refreshes_total\{outcome="failed"\} [2-9]/);
  }, 90_000);
});
