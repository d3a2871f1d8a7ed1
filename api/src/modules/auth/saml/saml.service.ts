import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { type Profile, ValidateInResponseTo } from '@node-saml/node-saml';
import { Strategy as SamlStrategy } from '@node-saml/passport-saml';
import { DOMParser } from '@xmldom/xmldom';
import type { Request, Response } from 'express';
import { randomBytes, randomUUID } from 'node:crypto';
import { Passport } from 'passport';
import { Counter } from 'prom-client';
import type { Config } from '../../../platform/config/config';
import { CONFIG } from '../../../platform/config/config.module';
import { Metrics } from '../../../platform/metrics/metrics';
import { RedisService } from '../../../platform/redis/redis.service';
import { DevIdentityProvider } from '../../../dev-idp/dev-idp';
import { DEV_ACCOUNTS, DEV_ADMIN_ENTITLEMENT } from '../../../dev-idp/accounts';
import { AuditService } from '../../audit/audit.service';
import { CoursesService } from '../../courses/courses.service';
import { UsersService } from '../../users/users.service';
import { SessionRegistry } from '../session-registry';
import { identityFrom } from './attributes';
import { resolveIdp, type IdpSettings } from './idp-settings';
import { ensureKeyPair, type KeyPair } from './keys';
import { RedisSamlCache } from './redis-cache';

type SessionRequest = Request;

/** A refused sign-in: `reason` is shown to the person; `detail` goes to the audit log only. */
export class SignInRefused extends Error {
  constructor(
    readonly reason: string,
    readonly detail: string,
    readonly status = 403,
  ) {
    super(reason);
  }
}

/** Where to go after sign-in: a path on this portal, never another site. */
export function safeNext(next: unknown): string {
  const s = typeof next === 'string' ? next : '';
  return /^\/(?![/\\])[^\s]*$/.test(s) && !s.startsWith('/auth/') ? s : '/';
}

const ASSERTION_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';

/**
 * node-saml checks signature, audience, validity and InResponseTo but not where the response was
 * sent: the Response's Destination (when present) and the bearer confirmation's Recipient (which
 * the signed assertion carries) must both be this portal's ACS. Returns why not, or null.
 */
export function addressedElsewhere(profile: Profile, acs: string): string | null {
  const parse = (xml: string | undefined) => (xml ? new DOMParser().parseFromString(xml, 'text/xml') : null);
  const response = parse(profile.getSamlResponseXml?.());
  const destination = response?.documentElement?.getAttribute('Destination');
  if (destination && destination !== acs) return `Destination ${destination} is not ${acs}`;
  const assertion = parse(profile.getAssertionXml?.());
  const recipients = assertion
    ? Array.from(assertion.getElementsByTagNameNS(ASSERTION_NS, 'SubjectConfirmationData')).map((e) =>
        e.getAttribute('Recipient'),
      )
    : [];
  if (!recipients.length || recipients.some((r) => r !== acs)) {
    return `Recipient ${recipients.join(', ') || '(none)'} is not ${acs}`;
  }
  return null;
}

/** node-saml's messages, in words a student understands (the raw one goes to the audit log). */
function reasonFor(message: string): string {
  const m = message.toLowerCase();
  if (m.includes('inresponseto'))
    return 'This sign-in answer was already used or has expired. Start the sign-in again.';
  if (m.includes('not yet valid')) return "The university's answer is not valid yet: a clock is wrong on one side.";
  if (m.includes('expired')) return "The university's answer has expired. Start the sign-in again.";
  if (m.includes('subject confirmation'))
    return "The university's answer has expired or was meant for another service. Start the sign-in again.";
  if (m.includes('audience') || m.includes('destination') || m.includes('recipient'))
    return "The university's answer was meant for another service.";
  if (m.includes('issuer')) return 'The answer came from an identity provider riglab does not trust.';
  if (m.includes('signature') || m.includes('signed'))
    return "The university's answer is not signed by a key riglab trusts.";
  if (m.includes('status')) return 'The university did not sign you in.';
  return 'The university sign-in answer could not be accepted.';
}

/**
 * The SAML 2.0 service provider: passport + @node-saml/passport-saml. Requires a signed assertion,
 * checks audience, recipient, destination, issuer, validity window (with SAML_CLOCK_SKEW_S) and
 * InResponseTo against a request cache in Redis, so a response is accepted once, by any portal process.
 */
@Injectable()
export class SamlService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(SamlService.name);
  private readonly passport = new Passport();
  private strategy?: SamlStrategy;
  private idp: IdpSettings | null = null;
  private spKeys?: KeyPair;
  private refreshTimer?: NodeJS.Timeout;
  private readonly refreshes: Counter<'outcome'>;
  /** The development IdP, when DEV_IDP=true and no other IdP is configured. */
  devIdp: DevIdentityProvider | null = null;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly redis: RedisService,
    private readonly users: UsersService,
    private readonly courses: CoursesService,
    private readonly audit: AuditService,
    private readonly sessions: SessionRegistry,
    metrics: Metrics,
  ) {
    this.refreshes = new Counter({
      name: 'riglab_saml_metadata_refreshes_total',
      help: 'IdP metadata read again from its URL or file (outcome: unchanged, changed, failed)',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    });
  }

  get enabled(): boolean {
    return !!this.strategy;
  }

  get acsUrl(): string {
    return `${this.config.publicUrl}/auth/saml/acs`;
  }

  async onModuleInit(): Promise<void> {
    const s = this.config.saml;
    if (s.idp.source === 'none') return;
    this.spKeys = await ensureKeyPair(s.keyDir, 'sp', s.spEntityId);
    if (s.idp.source === 'dev') {
      this.devIdp = await DevIdentityProvider.create(`${this.config.publicUrl}/dev-idp`, s.keyDir);
    }
    this.idp = await resolveIdp(s.idp, () => this.devIdp!.settings());
    this.useIdp(this.idp!);
    this.devIdp?.trust(this.metadata());
    this.log.log(`SAML sign-in through ${this.idp!.entityId}${this.devIdp ? ' (development IdP)' : ''}`);
    if (s.idp.source === 'metadata-url' || s.idp.source === 'metadata-file') {
      // An IdP rolls its signing key by publishing the next certificate beside the current one, then
      // dropping the old one: reading the metadata again follows it without a restart.
      this.refreshTimer = setInterval(() => void this.refreshIdp(), s.metadataRefreshMs);
      this.refreshTimer.unref();
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.refreshTimer);
  }

  /**
   * Reads the IdP's metadata again; a change (certificates, endpoints) takes effect for the next
   * sign-in. A failed read keeps the last good metadata, so an IdP outage never locks anyone out.
   */
  async refreshIdp(): Promise<'unchanged' | 'changed' | 'failed'> {
    let next: IdpSettings | null;
    try {
      next = await resolveIdp(this.config.saml.idp, () => this.devIdp!.settings());
    } catch (e) {
      this.refreshes.inc({ outcome: 'failed' });
      this.log.warn(`IdP metadata not refreshed, keeping the last good one: ${(e as Error).message}`);
      return 'failed';
    }
    if (!next || JSON.stringify(next) === JSON.stringify(this.idp)) {
      this.refreshes.inc({ outcome: 'unchanged' });
      return 'unchanged';
    }
    const before = this.idp!;
    this.useIdp(next);
    this.idp = next;
    this.refreshes.inc({ outcome: 'changed' });
    this.log.log(
      `IdP metadata changed (${next.entityId}): ${before.certs.length} → ${next.certs.length} signing certificate(s)` +
        `${before.ssoUrl !== next.ssoUrl ? `, sign-in address ${next.ssoUrl}` : ''}`,
    );
    return 'changed';
  }

  /** (Re)builds the SAML strategy for an IdP; requests in flight live in Redis, so none is lost. */
  private useIdp(idp: IdpSettings): void {
    const s = this.config.saml;
    const spKeys = this.spKeys!;
    this.strategy = new SamlStrategy(
      {
        callbackUrl: this.acsUrl,
        entryPoint: idp.ssoUrl,
        logoutUrl: idp.sloUrl ?? undefined,
        logoutCallbackUrl: `${this.config.publicUrl}/auth/saml/slo`,
        issuer: s.spEntityId,
        audience: s.spEntityId,
        idpIssuer: idp.entityId,
        idpCert: idp.certs,
        privateKey: spKeys.key,
        publicCert: spKeys.cert,
        decryptionPvk: spKeys.key,
        signatureAlgorithm: 'sha256',
        digestAlgorithm: 'sha256',
        wantAssertionsSigned: true,
        wantAuthnResponseSigned: false,
        acceptedClockSkewMs: s.clockSkewMs,
        validateInResponseTo: ValidateInResponseTo.always,
        requestIdExpirationPeriodMs: 10 * 60_000,
        cacheProvider: new RedisSamlCache(this.redis.client, `${this.config.deployment}:saml:req:`, 10 * 60_000),
        identifierFormat: null,
        disableRequestedAuthnContext: true,
        passReqToCallback: true,
      },
      (_req, profile, done) => done(null, profile as unknown as Record<string, unknown>),
      // The IdP's own LogoutRequest (the person signed out elsewhere): end every riglab session of theirs.
      (req, profile, done) => {
        void this.idpLogout(profile?.nameID).then(
          () => done(null, (req as unknown as { user?: Record<string, unknown> }).user),
          (e: unknown) => done(e as Error),
        );
      },
    );
    this.passport.use('saml', this.strategy as never);
  }

  /** The SP metadata a university registers (entity id, ACS, SLO, signing/encryption certificate). */
  metadata(): string {
    if (!this.strategy || !this.spKeys) throw new SignInRefused('SSO is not configured on this portal.', 'no IdP', 404);
    return this.strategy.generateServiceProviderMetadata(this.spKeys.cert, this.spKeys.cert);
  }

  signInOptions() {
    return {
      sso: { enabled: this.enabled, loginUrl: '/auth/saml/login', label: this.config.saml.idpName },
      devIdp: { enabled: !!this.devIdp, accounts: this.devIdp ? DEV_ACCOUNTS.map((a) => a.username) : [] },
    };
  }

  private run(
    req: Request,
    res: Response,
    options: Record<string, unknown> = {},
  ): Promise<{ redirected: true } | { profile: Profile | null }> {
    return new Promise((resolve, reject) => {
      // passport calls res.redirect-like code for the login request; we only need to know it did.
      const done = (err: unknown, user: unknown, info: unknown) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        if (!user) return reject(new Error(typeof info === 'object' && info ? JSON.stringify(info) : 'no profile'));
        resolve({ profile: user as Profile });
      };
      const original = res.end.bind(res);
      res.end = ((...args: Parameters<Response['end']>) => {
        const r = original(...args);
        resolve({ redirected: true });
        return r;
      }) as Response['end'];
      this.passport.authenticate('saml', { session: false, ...options }, done)(req, res, (e: unknown) =>
        reject(e instanceof Error ? e : new Error('sign-in failed')),
      );
    });
  }

  /** Sends the browser to the IdP with a fresh AuthnRequest; `next` comes back as RelayState. */
  async login(req: Request, res: Response): Promise<void> {
    if (!this.strategy) throw new SignInRefused('SSO is not configured on this portal.', 'no IdP', 404);
    Object.defineProperty(req, 'query', { value: { RelayState: safeNext(req.query.next) }, configurable: true });
    await this.run(req, res);
  }

  /**
   * Accepts the IdP's POST to the ACS: validates the response, maps its attributes, creates or
   * updates the user with their campus role and SSO course memberships, starts a fresh session.
   * Returns where to send the browser.
   */
  async acs(req: SessionRequest): Promise<string> {
    if (!this.strategy) throw new SignInRefused('SSO is not configured on this portal.', 'no IdP', 404);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.SAMLResponse !== 'string' || !body.SAMLResponse) {
      throw new SignInRefused(
        'The sign-in answer is missing: start the sign-in again.',
        'no SAMLResponse in the POST',
        400,
      );
    }
    let profile: Profile | null;
    try {
      const out = await this.run(req, req.res!);
      profile = 'profile' in out ? out.profile : null;
    } catch (e) {
      const message = (e as Error).message;
      throw new SignInRefused(reasonFor(message), message);
    }
    if (!profile) throw new SignInRefused('The sign-in answer carried nobody.', 'empty profile');
    const misaddressed = addressedElsewhere(profile, this.acsUrl);
    if (misaddressed) throw new SignInRefused(reasonFor('recipient'), misaddressed);
    if (profile.issuer !== this.idp!.entityId) {
      throw new SignInRefused(reasonFor('issuer'), `unknown issuer ${profile.issuer}; expected ${this.idp!.entityId}`);
    }

    // node-saml forgets the request id once used; this claims it atomically as well, so two copies
    // of one response posted at the same moment cannot both sign in.
    const claimed = await this.redis.client.set(
      `${this.config.deployment}:saml:used:${profile.inResponseTo ?? randomUUID()}`,
      '1',
      'EX',
      3600,
      'NX',
    );
    if (!claimed) throw new SignInRefused(reasonFor('InResponseTo'), 'response replayed (request id already used)');

    const attrs = { ...(profile.attributes ?? profile), nameID: profile.nameID } as Record<string, unknown>;
    const s = this.config.saml;
    const mapped = identityFrom(attrs, {
      ...s,
      adminEntitlements: s.adminEntitlements.length ? s.adminEntitlements : this.devIdp ? [DEV_ADMIN_ENTITLEMENT] : [],
    });
    if (!mapped.ok) throw new SignInRefused(`Your account cannot be used here: ${mapped.reason}.`, mapped.reason);
    const user = await this.users.syncFromSso(mapped.identity);
    if (user.disabledAt) throw new SignInRefused('Your riglab account is disabled.', `user ${user.username} disabled`);
    const memberships = await this.courses.syncSsoMemberships(user.id, mapped.identity.courses);

    await new Promise<void>((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));
    req.session.userId = user.id;
    req.session.csrfToken = randomBytes(24).toString('base64url');
    req.session.signedInAt = Date.now();
    req.session.saml = {
      nameID: profile.nameID,
      nameIDFormat: profile.nameIDFormat,
      sessionIndex: profile.sessionIndex,
    };
    await new Promise<void>((resolve, reject) => req.session.save((e) => (e ? reject(e) : resolve())));
    await this.sessions.add(user.id, req.sessionID, profile.nameID);
    await this.audit.record({
      action: 'auth.sign_in',
      actorUserId: user.id,
      actor: user.username,
      detail: {
        via: 'saml',
        idp: profile.issuer,
        campusRole: user.campusRole,
        courses: mapped.identity.courses.map((c) => `${c.code}:${c.term}:${c.role}`),
        memberships,
      },
      requestId: String((req as { id?: unknown }).id ?? ''),
      ip: req.ip,
    });
    return safeNext(body.RelayState);
  }

  /** Audits a refused sign-in and returns the reference shown to the person. */
  async refused(req: SessionRequest, e: SignInRefused): Promise<string> {
    const reference = String((req as { id?: unknown }).id ?? randomUUID());
    this.log.warn(`sign-in refused (${reference}): ${e.detail}`);
    await this.audit
      .record({
        action: 'auth.sign_in_rejected',
        detail: { reason: e.reason, detail: e.detail },
        requestId: reference,
        ip: req.ip,
      })
      .catch(() => undefined);
    return reference;
  }

  /** The IdP's single-logout URL for this session (a signed LogoutRequest), or null when it has none. */
  async logoutUrl(req: Request): Promise<string | null> {
    const who = req.session?.saml;
    if (!this.strategy || !this.idp?.sloUrl || !who?.nameID) return null;
    const fake = { ...req, user: { ...who }, query: {}, body: {} } as unknown as Request;
    return new Promise((resolve) =>
      this.strategy!.logout(fake as never, (err, url) => resolve(err ? null : (url ?? null))),
    );
  }

  private async idpLogout(nameID: string | undefined): Promise<void> {
    if (!nameID) return;
    const ended = await this.sessions.endAllForNameId(nameID);
    await this.audit.record({ action: 'auth.idp_logout', detail: { sessionsEnded: ended } });
  }

  /**
   * The IdP's GET to /auth/saml/slo: its answer to our LogoutRequest (go home), or its own
   * LogoutRequest (another service signed the person out): end every riglab session of that person
   * and answer with a LogoutResponse.
   */
  async singleLogout(req: Request, res: Response): Promise<void> {
    const q = req.query as Record<string, string>;
    const b = (req.body ?? {}) as Record<string, string>;
    if (!this.strategy || !(q.SAMLRequest || q.SAMLResponse || b.SAMLRequest || b.SAMLResponse)) {
      return void res.redirect(302, '/');
    }
    try {
      Object.assign(req, { logout: (cb: (e?: unknown) => void) => cb() });
      await this.run(req, res);
      if (!res.headersSent) res.redirect(302, '/');
    } catch (e) {
      this.log.warn(`IdP logout request refused: ${(e as Error).message}`);
      if (!res.headersSent) res.redirect(302, '/');
    }
  }
}
