import { DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { AuditEvent } from '../../api/src/modules/audit/audit-event.entity';
import { DEV_ACCOUNTS, SAML_OID, type DevAccount } from '../../api/src/dev-idp/accounts';
import { User } from '../../api/src/modules/users/user.entity';
import { migratedDatabase } from '../support/app';
import { startSignIn, startSsoPortal, type SsoPortal } from '../support/sso';

/**
 * Attacks on the SAML response that a student can mount with a genuine response of their own:
 * XML signature wrapping in the eight shapes of "On Breaking SAML" (Somorovsky et al., USENIX
 * Security 2012), and comments injected into a signed identity (CVE-2017-11427 and kin).
 * Replay, audience and expiry are in sso.test.ts.
 */
const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const student = DEV_ACCOUNTS.find((a) => a.username === 'student')!;

const children = (e: Element, ns: string, name: string): Element[] =>
  Array.from(e.childNodes).filter(
    (n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name,
  );
const child = (e: Element, ns: string, name: string): Element => children(e, ns, name)[0];
const copy = (e: Element): Element => e.cloneNode(true) as Element;
const withoutSignature = (e: Element): Element => {
  const c = copy(e);
  for (const s of children(c, DS, 'Signature')) c.removeChild(s);
  return c;
};

/** The student's genuine response, parsed: the document, its Response and the signed assertion in it. */
interface Parts {
  doc: Document;
  response: Element;
  assertion: Element;
}

/** The same assertion claiming to be the campus admin (the signed one says "student"). */
function evil(assertion: Element, keepSignature: boolean, id = `_evil${Math.random().toString(16).slice(2)}`): Element {
  const e = keepSignature ? copy(assertion) : withoutSignature(assertion);
  e.setAttribute('ID', id);
  for (const el of Array.from(e.getElementsByTagNameNS(SAML, 'AttributeValue')).concat(
    Array.from(e.getElementsByTagNameNS(SAML, 'NameID')),
  )) {
    el.textContent = (el.textContent ?? '').replace(/^student/, 'admin');
  }
  return e;
}

/** Each shape rewrites the parsed response in place. */
const SHAPES: Array<[string, (p: Parts) => void]> = [
  [
    'XSW1: evil Response, the signed original copied inside its Signature',
    ({ response, assertion }) => {
      const original = withoutSignature(response);
      const sig = child(response, DS, 'Signature');
      response.setAttribute('ID', '_evilresponse');
      response.replaceChild(evil(assertion, false), assertion);
      sig.appendChild(original);
    },
  ],
  [
    'XSW2: evil Response, the signed original copied beside (before) its Signature',
    ({ response, assertion }) => {
      const original = withoutSignature(response);
      const sig = child(response, DS, 'Signature');
      response.setAttribute('ID', '_evilresponse');
      response.replaceChild(evil(assertion, false), assertion);
      response.insertBefore(original, sig);
    },
  ],
  [
    'XSW3: unsigned evil assertion before the signed one',
    ({ response, assertion }) => {
      response.removeChild(child(response, DS, 'Signature'));
      response.insertBefore(evil(assertion, false), assertion);
    },
  ],
  [
    'XSW3 with the same ID: evil assertion before the signed one, IDs equal',
    ({ response, assertion }) => {
      response.removeChild(child(response, DS, 'Signature'));
      response.insertBefore(evil(assertion, false, assertion.getAttribute('ID')!), assertion);
    },
  ],
  [
    'XSW4: evil assertion wrapping the signed one',
    ({ response, assertion }) => {
      response.removeChild(child(response, DS, 'Signature'));
      const e = evil(assertion, false);
      response.replaceChild(e, assertion);
      e.appendChild(assertion);
    },
  ],
  [
    'XSW5: evil assertion carrying the signature, an unsigned copy of the original after it',
    ({ response, assertion }) => {
      response.removeChild(child(response, DS, 'Signature'));
      response.replaceChild(evil(assertion, true), assertion);
      response.appendChild(withoutSignature(assertion));
    },
  ],
  [
    'XSW6: evil assertion carrying the signature, the original inside that signature',
    ({ response, assertion }) => {
      response.removeChild(child(response, DS, 'Signature'));
      const e = evil(assertion, true);
      response.replaceChild(e, assertion);
      child(e, DS, 'Signature').appendChild(withoutSignature(assertion));
    },
  ],
  [
    'XSW7: the signed assertion hidden in Extensions, an unsigned evil one after',
    ({ doc, response, assertion }) => {
      response.removeChild(child(response, DS, 'Signature'));
      const ext = doc.createElementNS(SAMLP, 'samlp:Extensions');
      response.insertBefore(ext, assertion);
      response.replaceChild(evil(assertion, false), assertion);
      ext.appendChild(assertion);
    },
  ],
  [
    'XSW8: evil assertion carrying the signature, the original in a ds:Object inside it',
    ({ doc, response, assertion }) => {
      response.removeChild(child(response, DS, 'Signature'));
      const e = evil(assertion, true);
      response.replaceChild(e, assertion);
      const object = doc.createElementNS(DS, 'ds:Object');
      object.appendChild(withoutSignature(assertion));
      child(e, DS, 'Signature').appendChild(object);
    },
  ],
];

describe('SAML responses rearranged or doctored by a student', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let portal: SsoPortal;

  beforeAll(async () => {
    db = await migratedDatabase();
    portal = await startSsoPortal({ DATABASE_URL: db.url, RUN_WORKERS: 'false' });
  });
  afterAll(async () => {
    await portal?.close();
    await db?.drop();
  });

  /** A genuine response signed by the IdP for `account`, answering a real request of the portal. */
  async function genuine(account: DevAccount): Promise<string> {
    const to = new URL(await startSignIn(portal.url));
    const { id } = await portal.idp.parseRequest(Object.fromEntries(to.searchParams));
    return Buffer.from(await portal.idp.loginResponse(id, account), 'base64').toString('utf8');
  }

  /** Posts a response to the ACS; who it signed in, if anyone. */
  async function post(xml: string) {
    const res = await fetch(`${portal.url}/auth/saml/acs`, {
      method: 'POST',
      body: new URLSearchParams({ SAMLResponse: Buffer.from(xml, 'utf8').toString('base64') }),
      redirect: 'manual',
    });
    const html = await res.text();
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
    let username: string | null = null;
    if (res.status === 303 && cookie) {
      const me = await fetch(`${portal.url}/api/me`, { headers: { cookie } });
      if (me.ok) username = ((await me.json()) as { username: string }).username;
    }
    return { status: res.status, html, username };
  }

  it('signs the student in from the untouched response (the attacks start from it)', async () => {
    const res = await post(await genuine(student));
    expect(res.status).toBe(303);
    expect(res.username).toBe('student');
  });

  it.each(SHAPES)('%s: refused, nobody signed in as admin', async (_name, rewrite) => {
    const doc = new DOMParser().parseFromString(await genuine(student), 'text/xml');
    const response = doc.documentElement as unknown as Element;
    rewrite({ doc, response, assertion: child(response, SAML, 'Assertion') });
    const xml = new XMLSerializer().serializeToString(doc);
    expect(xml).toContain('admin@riglab.dev'); // the doctored claim is there to be believed

    const refusals = await db.ds.getRepository(AuditEvent).countBy({ action: 'auth.sign_in_rejected' });
    const res = await post(xml);
    console.log(`${_name}: HTTP ${res.status}${res.username ? `, signed in as ${res.username}` : ''}`);
    expect(res.username).not.toBe('admin');
    expect(res.status).toBe(403);
    expect(res.html).toContain('<title>Sign-in failed · riglab</title>');
    expect(res.html).not.toMatch(/<saml|at .+\.ts:\d+|Error:/);
    expect(await db.ds.getRepository(AuditEvent).countBy({ action: 'auth.sign_in_rejected' })).toBe(refusals + 1);
    expect(await db.ds.getRepository(User).existsBy({ username: 'admin' })).toBe(false);
  });

  describe('comments injected into a signed identity (exclusive c14n drops them, so the signature holds)', () => {
    // A real person "admin.x" whose IdP signs their genuine values; the comment splits a value so that a
    // parser reading only the first text node would see "admin".
    const adminX: DevAccount = {
      username: 'admin.x',
      description: 'a student whose name starts with another’s',
      nameId: 'admin.x',
      attributes: {
        [SAML_OID.eppn]: ['admin.x@riglab.dev'],
        [SAML_OID.uid]: ['admin.x'],
        [SAML_OID.scopedAffiliation]: ['student@riglab.dev'],
      },
    };
    const cases: Array<[string, DevAccount, (xml: string) => string]> = [
      [
        'in eduPersonPrincipalName and uid',
        adminX,
        (xml) =>
          xml
            .replaceAll('>admin.x@riglab.dev<', '>admin<!---->.x@riglab.dev<')
            .replaceAll('>admin.x<', '>admin<!---->.x<'),
      ],
      [
        'in the NameID (no username attribute sent)',
        { ...adminX, attributes: { [SAML_OID.scopedAffiliation]: ['student@riglab.dev'] } },
        (xml) => xml.replace(/(<saml:NameID[^>]*>)admin\.x</, '$1admin<!---->.x<'),
      ],
    ];
    it.each(cases)('%s: never signs in as the truncated name', async (_name, account, inject) => {
      const original = await genuine(account);
      const doctored = inject(original);
      expect(doctored).not.toBe(original);
      const res = await post(doctored);
      console.log(`comment ${_name}: HTTP ${res.status}${res.username ? `, signed in as ${res.username}` : ''}`);
      expect(res.username).not.toBe('admin');
      expect(await db.ds.getRepository(User).existsBy({ username: 'admin' })).toBe(false);
      // Either refused, or signed in as exactly the person the IdP vouched for.
      if (res.status === 303) expect(res.username).toBe('admin.x');
      else {
        expect(res.status).toBe(403);
        expect(res.html).toContain('<title>Sign-in failed · riglab</title>');
      }
    });
  });
});
