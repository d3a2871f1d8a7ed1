import { DOMParser } from '@xmldom/xmldom';
import express, { type Request, type Response, type Router } from 'express';
import { randomBytes } from 'node:crypto';
import * as saml from 'samlify';
import type { IdpSettings } from '../modules/auth/saml/idp-settings';
import { certBody, ensureKeyPair, type KeyPair } from '../modules/auth/saml/keys';
import { escapeHtml, page } from '../modules/auth/saml/pages';
import { DEV_ACCOUNTS, DEV_CLASS_HINT, DEV_PASSWORD, devAccount, type DevAccount } from './accounts';

/*
 * The development identity provider: a real SAML 2.0 IdP (samlify) served by the portal at /dev-idp
 * when DEV_IDP=true (development and test only), so that `npm run up` and the tests sign in through
 * the same SAML flow a university IdP drives. Its key pair is generated at first start.
 */

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

// samlify wants a schema validator before it parses a message. The XSD validator costs ~3 s per
// message (ENVIRONMENT.md); for a development IdP a well-formedness check is enough.
saml.setSchemaValidator({
  validate: async (xml: string) => {
    const errors: string[] = [];
    new DOMParser({ onError: (level, msg) => void (level !== 'warning' && errors.push(msg)) }).parseFromString(
      xml,
      'text/xml',
    );
    if (errors.length) throw new Error(`malformed SAML message: ${errors[0]}`);
    return 'well-formed';
  },
});

/** What a test may change in a login response to see the service provider refuse it. */
export interface ResponseOverrides {
  audience?: string;
  issuer?: string;
  notBefore?: Date;
  notOnOrAfter?: Date;
  inResponseTo?: string;
  destination?: string;
  recipient?: string;
  /** Sign with another key (the SP trusts only the configured certificates). */
  signer?: KeyPair;
  /** Attributes instead of the account's. */
  attributes?: Record<string, string[]>;
}

const x = (s: string) => escapeHtml(s);

export class DevIdentityProvider {
  private sp?: saml.ServiceProviderInstance;

  private constructor(
    private readonly base: string,
    readonly keys: KeyPair,
  ) {}

  /** `base`: the public URL of the IdP, e.g. http://localhost:8000/dev-idp. */
  static async create(base: string, keyDir: string): Promise<DevIdentityProvider> {
    return new DevIdentityProvider(base, await ensureKeyPair(keyDir, 'dev-idp', 'riglab development IdP'));
  }

  get entityId(): string {
    return `${this.base}/metadata`;
  }

  /** How the service provider sees this IdP (what a university's metadata would say). */
  settings(): IdpSettings {
    return {
      entityId: this.entityId,
      ssoUrl: `${this.base}/sso`,
      sloUrl: `${this.base}/slo`,
      certs: [certBody(this.keys.cert)],
    };
  }

  /** The service provider this IdP answers, from its metadata (as a real IdP registers an SP). */
  trust(spMetadata: string): void {
    this.sp = saml.ServiceProvider({
      metadata: spMetadata,
      wantMessageSigned: true,
      wantLogoutRequestSigned: true,
      wantLogoutResponseSigned: true,
    });
  }

  metadata(): string {
    return this.idp().getMetadata();
  }

  private idp(signer: KeyPair = this.keys, issuer = this.entityId): saml.IdentityProviderInstance {
    return saml.IdentityProvider({
      entityID: issuer,
      privateKey: signer.key,
      signingCert: signer.cert,
      nameIDFormat: [PERSISTENT],
      singleSignOnService: [{ Binding: REDIRECT, Location: `${this.base}/sso` }],
      singleLogoutService: [{ Binding: REDIRECT, Location: `${this.base}/slo` }],
      wantAuthnRequestsSigned: false,
      requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    });
  }

  private trusted(): saml.ServiceProviderInstance {
    if (!this.sp) throw new Error('the development IdP has no service provider to answer yet');
    return this.sp;
  }

  /** The id and ACS URL of an AuthnRequest sent with the HTTP-Redirect binding. */
  async parseRequest(query: Record<string, unknown>): Promise<{ id: string; acs: string }> {
    const parsed = await this.idp().parseLoginRequest(this.trusted(), 'redirect', { query });
    const request = (parsed.extract as { request?: { id?: string; assertionConsumerServiceUrl?: string } }).request;
    if (!request?.id) throw new Error('the sign-in request has no ID');
    const acs = this.trusted().entityMeta.getAssertionConsumerService('post') as string;
    return { id: request.id, acs };
  }

  /** A signed login response (base64, for an HTTP-POST to the ACS) for an account. */
  async loginResponse(requestId: string, account: DevAccount, o: ResponseOverrides = {}): Promise<string> {
    const sp = this.trusted();
    const acs = sp.entityMeta.getAssertionConsumerService('post') as string;
    const now = new Date();
    const iso = (d: Date) => d.toISOString();
    const notBefore = o.notBefore ?? new Date(now.getTime() - 1000);
    const notOnOrAfter = o.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000);
    const inResponseTo = o.inResponseTo ?? requestId;
    const issuer = o.issuer ?? this.entityId;
    const attrs = o.attributes ?? account.attributes;
    const attributeXml = Object.entries(attrs)
      .map(
        ([name, vals]) =>
          `<saml:Attribute Name="${x(name)}" NameFormat="${URI}">${vals
            .map((v) => `<saml:AttributeValue xsi:type="xs:string">${x(v)}</saml:AttributeValue>`)
            .join('')}</saml:Attribute>`,
      )
      .join('');
    const id = `_${randomBytes(20).toString('hex')}`;
    const xml =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${iso(now)}" Destination="${x(o.destination ?? acs)}" InResponseTo="${x(inResponseTo)}">` +
      `<saml:Issuer>${x(issuer)}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_${randomBytes(20).toString('hex')}" Version="2.0" IssueInstant="${iso(now)}">` +
      `<saml:Issuer>${x(issuer)}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="${PERSISTENT}">${x(account.nameId)}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(notOnOrAfter)}" Recipient="${x(o.recipient ?? acs)}" InResponseTo="${x(inResponseTo)}"/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${iso(notBefore)}" NotOnOrAfter="${iso(notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${x(o.audience ?? sp.entityMeta.getEntityID())}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="_${randomBytes(12).toString('hex')}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      `<saml:AttributeStatement>${attributeXml}</saml:AttributeStatement>` +
      `</saml:Assertion></samlp:Response>`;
    const res = await this.idp(o.signer, issuer).createLoginResponse(
      sp,
      { extract: { request: { id: requestId } } },
      'post',
      { email: account.nameId },
      { customTagReplacement: () => ({ id, context: xml }) },
    );
    return res.context;
  }

  /**
   * An IdP-initiated LogoutRequest for an account (the person signed out of another service), for an
   * HTTP-POST to the SP's single-logout endpoint.
   */
  logoutRequest(account: DevAccount): { action: string; SAMLRequest: string } {
    const out = this.idp().createLogoutRequest(this.trusted(), 'post', {
      logoutNameID: account.nameId,
    }) as { context: string; entityEndpoint: string };
    return { action: out.entityEndpoint, SAMLRequest: out.context };
  }

  /** The sign-in page and the single-logout endpoint, mounted at /dev-idp. */
  router(limit: (req: Request) => Promise<boolean>): Router {
    const r = express.Router();
    r.use(express.urlencoded({ extended: false, limit: '64kb' }));
    r.get('/metadata', (_req, res) => void res.type('application/samlmetadata+xml').send(this.metadata()));

    const form = (res: Response, q: Record<string, string>, error?: string) => {
      const hidden = ['SAMLRequest', 'RelayState', 'SigAlg', 'Signature']
        .filter((k) => q[k])
        .map((k) => `<input type="hidden" name="${k}" value="${x(q[k])}">`)
        .join('');
      const accounts = [
        ...DEV_ACCOUNTS.map((a) => `<li><code>${x(a.username)}</code> — ${x(a.description)}</li>`),
        `<li>${x(DEV_CLASS_HINT)}</li>`,
      ].join('');
      res
        .status(error ? 401 : 200)
        .type('html')
        .send(
          page(
            'Development sign-in',
            `<p class="note">This is riglab's <strong>development identity provider</strong>. A real portal sends you to your university's sign-in page instead.</p>
            ${error ? `<p class="error" role="alert">${x(error)}</p>` : ''}
            <form method="post" action="${x(this.base)}/sso">${hidden}
              <label>Username <input name="username" autocomplete="username" autofocus required value="${x(q.username ?? '')}"></label>
              <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
              <button type="submit">Sign in</button>
            </form>
            <p>Demo accounts (password <code>${DEV_PASSWORD}</code>):</p><ul>${accounts}</ul>`,
          ),
        );
    };

    r.get('/sso', async (req, res) => {
      const q = req.query as Record<string, string>;
      try {
        await this.parseRequest(q);
      } catch (e) {
        return void res
          .status(400)
          .type('html')
          .send(page('Bad sign-in request', `<p>${x((e as Error).message)}</p>`));
      }
      form(res, q);
    });

    r.post('/sso', async (req, res) => {
      const b = req.body as Record<string, string>;
      if (!(await limit(req))) {
        return void res.status(429).type('html').send(page('Too many attempts', '<p>Wait a minute and try again.</p>'));
      }
      let request: { id: string; acs: string };
      try {
        request = await this.parseRequest({
          SAMLRequest: b.SAMLRequest,
          RelayState: b.RelayState,
          SigAlg: b.SigAlg,
          Signature: b.Signature,
        });
      } catch (e) {
        return void res
          .status(400)
          .type('html')
          .send(page('Bad sign-in request', `<p>${x((e as Error).message)}</p>`));
      }
      const account = devAccount(b.username ?? '');
      if (!account || b.password !== DEV_PASSWORD) return form(res, b, 'Unknown username or wrong password.');
      const response = await this.loginResponse(request.id, account);
      res.type('html').send(
        page(
          'Signing you in…',
          `<form method="post" action="${x(request.acs)}" id="saml">
            <input type="hidden" name="SAMLResponse" value="${x(response)}">
            ${b.RelayState ? `<input type="hidden" name="RelayState" value="${x(b.RelayState)}">` : ''}
            <noscript><button type="submit">Continue</button></noscript>
          </form><script>document.getElementById('saml').submit()</script>`,
        ),
      );
    });

    // Single logout: the portal has already ended its own session; answer its LogoutRequest.
    r.get('/slo', async (req, res) => {
      try {
        const parsed = await this.idp().parseLogoutRequest(this.trusted(), 'redirect', { query: req.query });
        // The SP's metadata names its SingleLogoutService with the HTTP-POST binding.
        const out = this.idp().createLogoutResponse(this.trusted(), parsed as never, 'post', {
          relayState: String(req.query.RelayState ?? ''),
        }) as { context: string; entityEndpoint: string };
        res.type('html').send(
          page(
            'Signing you out…',
            `<form method="post" action="${x(out.entityEndpoint)}" id="slo">
              <input type="hidden" name="SAMLResponse" value="${x(out.context)}">
              <noscript><button type="submit">Continue</button></noscript>
            </form><script>document.getElementById('slo').submit()</script>`,
          ),
        );
      } catch (e) {
        res
          .status(400)
          .type('html')
          .send(page('Bad sign-out request', `<p>${x((e as Error).message)}</p>`));
      }
    });
    return r;
  }
}
