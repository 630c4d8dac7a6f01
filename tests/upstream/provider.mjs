// Upstream OpenID Connect provider for Renkei's identity-broker tests.
//
// A real, independent OP (panva's oidc-provider) on a loopback port, shaped like
// Google Workspace or Microsoft Entra ID, with a small control API under /__test
// that lets a test pick the signed-in account and break the ID token on purpose.
// See README.md beside this file for the environment variables and the API.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider from 'oidc-provider';

// stdout carries only the one JSON line announcing the provider; oidc-provider's
// notices (console.info) and anything else go to stderr.
console.log = console.error;
console.info = console.error;

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: ${name} must be set`);
    process.exit(2);
  }
  return value;
}

const FLAVOUR = requiredEnv('FLAVOUR');
if (FLAVOUR !== 'google' && FLAVOUR !== 'microsoft') {
  console.error('provider.mjs: FLAVOUR must be "google" or "microsoft"');
  process.exit(2);
}
const CLIENT_ID = requiredEnv('CLIENT_ID');
const CLIENT_SECRET = requiredEnv('CLIENT_SECRET');
const REDIRECT_URIS = requiredEnv('REDIRECT_URIS').split(',').map((uri) => uri.trim()).filter(Boolean);
const TENANT = FLAVOUR === 'microsoft' ? requiredEnv('TENANT') : undefined;

// Entra's issuer has a path (/<tenant>/v2.0): the provider is mounted under it.
const MOUNT = FLAVOUR === 'microsoft' ? `/${TENANT}/v2.0` : '';
const CONTROL = '/__test';

// ---- mutable test state, driven by the control API ---------------------------

const TAMPER_MODES = new Set(['audience', 'signature', 'nonce', 'expired', 'issuer', 'tenant', 'access_denied']);

const state = {
  account: { sub: 'upstream-default' }, // who the next authorization signs in as
  tamper: null, // one of TAMPER_MODES, or null
  delayMs: 0, // added before discovery, JWKS and token responses
  authorizations: 0, // authorization codes issued so far
  signingKey: null, // { kid, privateKey, publicJwk }: signs every ID token, the only key in the JWKS
  rogueKey: null, // same shape, never published: used by the "signature" tamper mode
};

// Every account ever set, so a code issued before a later /__test/account call
// still resolves to the account it was issued for.
const accounts = new Map([[state.account.sub, state.account]]);

async function newSigningKey() {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' } };
}

// ---- ID token post-processing ------------------------------------------------

const epoch = () => Math.floor(Date.now() / 1000);

// Re-signs the ID token the provider issued with the current signing key (so key
// rotation needs no new Provider), altering one thing when a tamper mode is on.
async function finishIdToken(idToken) {
  const claims = decodeJwt(idToken);
  let key = state.signingKey;

  switch (state.tamper) {
    case 'audience':
      claims.aud = `${CLIENT_ID}-other`;
      break;
    case 'signature':
      // Same kid as the real key, so only a verifier that checks the signature notices.
      key = { ...state.rogueKey, kid: state.signingKey.kid };
      break;
    case 'nonce':
      claims.nonce = `tampered-${claims.nonce ?? randomUUID()}`;
      break;
    case 'expired':
      claims.iat = epoch() - 2 * 3600;
      claims.exp = epoch() - 3600;
      break;
    case 'issuer':
      claims.iss = 'http://127.0.0.1:1/not-the-issuer';
      break;
    case 'tenant':
      claims.tid = randomUUID();
      break;
    default:
  }

  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .sign(key.privateKey);
}

// ---- the provider --------------------------------------------------------------

function providerConfiguration(privateJwk) {
  return {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: REDIRECT_URIS,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      // oidc-provider accepts client_secret_post as well for this method.
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    }],
    // The initial signing key; ID tokens are re-signed anyway (finishIdToken).
    jwks: { keys: [{ ...privateJwk, kid: state.signingKey.kid, alg: 'RS256', use: 'sig' }] },
    // Scope claims go into the ID token itself, as Google and Entra do.
    conformIdTokenClaims: false,
    // amr comes from the login (the account's amr); hd or tid from the account.
    claims: {
      openid: ['sub', 'amr', FLAVOUR === 'google' ? 'hd' : 'tid'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    async findAccount(ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: account.email,
            email_verified: account.email_verified,
            name: account.name,
            ...(FLAVOUR === 'google' ? { hd: account.hd } : { tid: TENANT }),
          };
        },
      };
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    // Interactions are finished automatically by the middleware below.
    interactions: { url: (ctx, interaction) => `${MOUNT}/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
    },
  };
}

async function createProvider(issuer) {
  const privateJwk = await exportJWK(state.signingKey.privateKey);
  const provider = new Provider(issuer, providerConfiguration(privateJwk));

  // Routes relative to the mount point, as ctx.path sees them.
  const route = (name, params) => provider.pathFor(name, { mountPath: '', ...params });
  const delayed = new Set(['/.well-known/openid-configuration', route('jwks'), route('token')]);

  provider.on('authorization_code.saved', () => { state.authorizations += 1; });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));

  provider.use(async (ctx, next) => {
    if (delayed.has(ctx.path) && state.delayMs > 0) {
      await sleep(state.delayMs);
    }

    // The JWKS lists only the current signing key (see /__test/rotate).
    if (ctx.method === 'GET' && ctx.path === route('jwks')) {
      ctx.set('cache-control', 'no-store');
      ctx.body = { keys: [state.signingKey.publicJwk] };
      return;
    }

    // No login or consent page: sign in as the current account, grant what was
    // asked, and resume the authorization request in place so the client is
    // redirected straight to its redirect_uri.
    const interaction = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
    if (ctx.method === 'GET' && interaction) {
      const [, uid] = interaction;
      if (!await finishInteraction(provider, uid)) {
        ctx.throw(400, `interaction ${uid} not found or expired`);
      }
      ctx.path = route('resume', { uid });
      ctx.req.originalUrl = `${MOUNT}${ctx.url}`;
      ctx.req.headers.cookie = `${provider.cookieName('resume')}=${uid}`;
    }

    await next();

    if (ctx.path === route('token') && ctx.status === 200 && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: await finishIdToken(ctx.body.id_token) };
    }
  });

  return provider;
}

// Records the outcome of interaction `uid`; false when there is no such interaction.
async function finishInteraction(provider, uid) {
  const interaction = await provider.Interaction.find(uid);
  if (!interaction) return false;

  if (state.tamper === 'access_denied') {
    interaction.result = { error: 'access_denied', error_description: 'denied by the test (tamper mode access_denied)' };
  } else {
    const { sub, amr } = state.account;
    const grant = new provider.Grant({ accountId: sub, clientId: interaction.params.client_id });
    grant.addOIDCScope(interaction.params.scope);
    interaction.result = {
      login: { accountId: sub, ...(amr ? { amr } : {}) },
      consent: { grantId: await grant.save() },
    };
  }
  await interaction.save(interaction.exp - epoch());
  return true;
}

// ---- control API -------------------------------------------------------------

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}

async function control(req, res, path) {
  const body = req.method === 'POST' ? await readJson(req) : undefined;

  switch (`${req.method} ${path}`) {
    case 'POST /account': {
      if (typeof body.sub !== 'string' || !body.sub) {
        return sendJson(res, 400, { error: 'sub (non-empty string) is required' });
      }
      const { sub, email, email_verified: emailVerified, name, hd, amr } = body;
      state.account = { sub, email, email_verified: emailVerified, name, hd, amr };
      accounts.set(sub, state.account);
      return sendJson(res, 200, state.account);
    }
    case 'POST /tamper': {
      const mode = body.mode ?? null;
      if (mode !== null && !TAMPER_MODES.has(mode)) {
        return sendJson(res, 400, { error: `unknown mode ${JSON.stringify(mode)}` });
      }
      if (mode === 'tenant' && FLAVOUR !== 'microsoft') {
        return sendJson(res, 400, { error: 'mode "tenant" needs FLAVOUR=microsoft' });
      }
      state.tamper = mode;
      return sendJson(res, 200, { mode });
    }
    case 'POST /delay': {
      if (!Number.isInteger(body.ms) || body.ms < 0) {
        return sendJson(res, 400, { error: 'ms must be a non-negative integer' });
      }
      state.delayMs = body.ms;
      return sendJson(res, 200, { ms: body.ms });
    }
    case 'POST /rotate':
      state.signingKey = await newSigningKey();
      return sendJson(res, 200, { kid: state.signingKey.kid });
    case 'GET /authorizations':
      return sendJson(res, 200, state.authorizations);
    default:
      return sendJson(res, 404, { error: `no control endpoint ${req.method} ${CONTROL}${path}` });
  }
}

// ---- server ------------------------------------------------------------------

state.signingKey = await newSigningKey();
state.rogueKey = await newSigningKey();

let providerCallback;

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://127.0.0.1');

  if (pathname === CONTROL || pathname.startsWith(`${CONTROL}/`)) {
    control(req, res, pathname.slice(CONTROL.length)).catch((err) => {
      sendJson(res, 400, { error: String(err.message ?? err) });
    });
    return;
  }

  if (MOUNT && pathname !== MOUNT && !pathname.startsWith(`${MOUNT}/`)) {
    sendJson(res, 404, { error: 'not found' });
    return;
  }

  // Mount under the issuer path: oidc-provider derives its URLs from originalUrl.
  req.originalUrl = req.url;
  const rest = req.url.slice(MOUNT.length);
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  // Every authorization starts from a fresh session, so the account set through
  // /__test/account applies at once and clients need no cookie jar.
  delete req.headers.cookie;
  providerCallback(req, res);
});

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}${MOUNT}`;
  providerCallback = (await createProvider(issuer)).callback();
  process.stdout.write(`${JSON.stringify({ issuer, port, control: `http://127.0.0.1:${port}${CONTROL}` })}\n`);
  console.error(`upstream ${FLAVOUR} provider listening, issuer ${issuer}`);
});

// The test that spawned us drops our stdin when it is done: exit then, or on a signal.
const shutdown = () => process.exit(0);
process.stdin.on('end', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
