import type { NestExpressApplication } from '@nestjs/platform-express';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../api/src/platform/http/bootstrap';
import { SamlService } from '../../api/src/modules/auth/saml/saml.service';
import type { DevIdentityProvider } from '../../api/src/dev-idp/dev-idp';
import { freePort, testConfig, type TestPortal } from './app';

/** Keys are generated once per machine for the tests (generation costs ~0.5 s). */
export const TEST_SAML_KEYS = join(tmpdir(), 'riglab-test-saml-keys');

export interface BrowserSession {
  /** `Cookie` header value carrying the portal session. */
  cookie: string;
  /** The session's CSRF token, for X-CSRF-Token. */
  csrf: string;
}

export interface SsoPortal extends TestPortal {
  idp: DevIdentityProvider;
  /** The whole SAML flow over HTTP, as a browser would: portal → dev IdP form → ACS. */
  signIn(username: string, password?: string): Promise<BrowserSession>;
}

const unescape = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** Hidden and named inputs of the first form on a page, and its action. */
export function formOf(html: string): { action: string; fields: Record<string, string> } {
  const action = unescape(/<form[^>]*action="([^"]*)"/.exec(html)?.[1] ?? '');
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]] = unescape(m[2]);
  return { action, fields };
}

/** Starts the IdP flow; returns the dev IdP's sign-in page URL. */
export async function startSignIn(url: string, next = '/'): Promise<string> {
  const res = await fetch(`${url}/auth/saml/login?next=${encodeURIComponent(next)}`, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`login start answered ${res.status}: ${await res.text()}`);
  return res.headers.get('location')!;
}

/** A real portal with the development IdP, on a fixed loopback port (SAML URLs must be known). */
export async function startSsoPortal(vars: Record<string, string> = {}): Promise<SsoPortal> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = testConfig({
    DEV_IDP: 'true',
    PORT: String(port),
    PUBLIC_URL: url,
    SAML_KEY_DIR: TEST_SAML_KEYS,
    SIGN_IN_RATE_PER_MINUTE: '1000',
    ...vars,
  });
  const app: NestExpressApplication = await createApp(config);
  await app.listen(port, '127.0.0.1');
  const idp = app.get(SamlService).devIdp!;

  const signIn = async (username: string, password = 'demo'): Promise<BrowserSession> => {
    const idpPage = await startSignIn(url);
    const page = await fetch(idpPage);
    const { action, fields } = formOf(await page.text());
    const answered = await fetch(action, {
      method: 'POST',
      body: new URLSearchParams({ ...fields, username, password }),
    });
    const post = formOf(await answered.text());
    if (!post.fields.SAMLResponse) throw new Error(`the dev IdP did not sign ${username} in (HTTP ${answered.status})`);
    const acs = await fetch(post.action, {
      method: 'POST',
      body: new URLSearchParams(post.fields),
      redirect: 'manual',
    });
    if (acs.status !== 303) throw new Error(`the ACS answered ${acs.status}: ${await acs.text()}`);
    const cookie = (acs.headers.get('set-cookie') ?? '').split(';')[0];
    const me = await fetch(`${url}/api/me`, { headers: { cookie } });
    const body = (await me.json()) as { csrfToken: string };
    return { cookie, csrf: body.csrfToken };
  };
  return { app, url, config, idp, signIn, close: () => app.close() };
}
