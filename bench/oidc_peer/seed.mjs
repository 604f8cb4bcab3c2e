// Pre-generates what bench/oidc.py's runs consume, through oidc-provider's own models, into the
// Redis adapter every worker reads:
//   node seed.mjs account                 the person (claims read by findAccount)
//   node seed.mjs codes N FILE            N grants, each with an authorization code (PKCE S256):
//                                         FILE gets "code<TAB>verifier" lines
//   node seed.mjs refresh N FILE          N offline grants, each with a refresh token: one per line
//   node seed.mjs access FILE             a userinfo access token (opaque: oidc-provider's JWT access
//                                         tokens are for resource servers only, refused at userinfo
//                                         and introspection) and a refresh token, as JSON
import crypto from 'node:crypto';
import fs from 'node:fs';

import { buildProvider, config } from './provider.mjs';
import { redis } from './redis_adapter.mjs';

const BATCH = 200;
const OIDC_SCOPE = 'openid profile email';

const provider = buildProvider();
const client = await provider.Client.find(config.client_id);
if (!client) {
  throw new Error('the bench client is not configured');
}

const random = () => crypto.randomBytes(32).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

async function newGrant(oidcScope) {
  const grant = new provider.Grant({ accountId: config.account_id, clientId: config.client_id });
  grant.addOIDCScope(oidcScope);
  grant.addResourceScope(config.resource, 'api');
  return grant.save();
}

async function newCode() {
  const grantId = await newGrant(OIDC_SCOPE);
  const verifier = random();
  const code = new provider.AuthorizationCode({
    accountId: config.account_id,
    acr: 'eidas1',
    amr: ['pwd'],
    authTime: now(),
    client,
    grantId,
    nonce: random(),
    redirectUri: config.redirect_uri,
    resource: config.resource,
    scope: `${OIDC_SCOPE} api`,
    sid: random(),
    codeChallenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
    codeChallengeMethod: 'S256',
  });
  return `${await code.save()}\t${verifier}`;
}

async function newRefreshToken() {
  const scope = `${OIDC_SCOPE} offline_access`;
  const grantId = await newGrant(scope);
  const token = new provider.RefreshToken({
    accountId: config.account_id,
    acr: 'eidas1',
    amr: ['pwd'],
    authTime: now(),
    client,
    grantId,
    gty: 'authorization_code',
    resource: config.resource,
    rotations: 0,
    scope: `${scope} api`,
  });
  return token.save();
}

async function many(count, make, file) {
  const out = fs.openSync(file, 'w');
  for (let done = 0; done < count; done += BATCH) {
    const lines = await Promise.all(Array.from({ length: Math.min(BATCH, count - done) }, make));
    fs.writeSync(out, `${lines.join('\n')}\n`);
  }
  fs.closeSync(out);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'account') {
  await redis.set(`account:${config.account_id}`, JSON.stringify(config.person));
} else if (command === 'codes') {
  await many(Number(args[0]), newCode, args[1]);
} else if (command === 'refresh') {
  await many(Number(args[0]), newRefreshToken, args[1]);
} else if (command === 'access') {
  const grantId = await newGrant(`${OIDC_SCOPE} offline_access`);
  const access = new provider.AccessToken({
    accountId: config.account_id,
    client,
    grantId,
    gty: 'refresh_token',
    scope: OIDC_SCOPE,
  });
  const accessToken = await access.save();
  fs.writeFileSync(args[0], JSON.stringify({ access_token: accessToken, refresh_token: await newRefreshToken() }));
} else {
  throw new Error(`unknown command ${command}`);
}
redis.disconnect();
