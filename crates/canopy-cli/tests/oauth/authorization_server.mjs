// The authorization server of the OAuth tests: oidc-provider (from npm, installed by
// scripts/setup/oauth.sh; CANOPY_OIDC_PROVIDER is its folder), configured — not written —
// here. It listens on 127.0.0.1 on a free port and prints `issuer URL` on stderr.
//
// Clients: `ci` (client_credentials, every scope); `rs` (the resource server's own
// credentials: it may introspect any token, and nothing else). Resources (RFC 8707): each of
// RESOURCES (comma-separated), JWT access tokens with `aud` = the resource; each of
// OPAQUE_RESOURCES, opaque access tokens (checked by introspection, RFC 7662). Revocation
// (RFC 7009) at /token/revocation. Authorization code + PKCE for clients that register
// themselves (RFC 7591, at /reg): oidc-provider's development interactions are the login
// and consent pages (any login is accepted), which the tests post to headlessly; PKCE is
// required of public clients (token_endpoint_auth_method none).
// Optional settings: ACCESS_TOKEN_TTL (seconds; default oidc-provider's 10 min);
// SIGNING_KEY_FILE, a PKCS#8 DER P-256 key the tokens are signed with (ES256, kid `key-file`)
// instead of a generated RSA key (RS256).
// POST /rotate replaces the signing key with a new RSA one under a new `kid`.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(
  pathToFileURL(`${process.env.CANOPY_OIDC_PROVIDER}/lib/index.js`).href
);
const list = (name) => (process.env[name] || '').split(',').filter(Boolean);
const resources = list('RESOURCES');
const opaque = list('OPAQUE_RESOURCES');
const ttl = process.env.ACCESS_TOKEN_TTL ? Number(process.env.ACCESS_TOKEN_TTL) : undefined;
const scopes = ['notes:write', 'db:read'];
let generation = 0;
const key = () => {
  generation += 1;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `key-${generation}`, use: 'sig', alg: 'RS256' };
};

const fileKey = () => ({
  ...createPrivateKey({ key: readFileSync(process.env.SIGNING_KEY_FILE), format: 'der', type: 'pkcs8' })
    .export({ format: 'jwk' }),
  kid: 'key-file',
  use: 'sig',
  alg: 'ES256',
});

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const configuration = (jwk) => ({
  jwks: { keys: [jwk] },
  clients: [{
    client_id: 'ci',
    client_secret: 'ci-secret-0123456789',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: scopes.join(' '),
    id_token_signed_response_alg: jwk.alg,
  }, {
    client_id: 'rs',
    client_secret: 'rs-secret-0123456789',
    grant_types: [],
    redirect_uris: [],
    response_types: [],
    id_token_signed_response_alg: jwk.alg,
  }],
  scopes,
  // Refresh tokens for the clients that registered the grant (rmcp's and the Python SDK's do).
  issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  ...(ttl ? { ttl: { ClientCredentials: ttl, AccessToken: ttl } } : {}),
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Only the resource server learns about tokens (and a client about its own).
      allowedPolicy: (ctx, client, token) => client.clientId === 'rs' || client.clientId === token.clientId,
    },
    revocation: {
      enabled: true,
      allowedPolicy: (ctx, client, token) => client.clientId === token.clientId,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resources[0] || opaque[0],
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (opaque.includes(resource)) {
          return { scope: scopes.join(' '), audience: resource, accessTokenFormat: 'opaque' };
        }
        if (!resources.includes(resource)) throw new Error(`unknown resource ${resource}`);
        return {
          scope: scopes.join(' '),
          audience: resource,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: jwk.alg } },
        };
      },
    },
  },
});
let provider = new Provider(issuer, configuration(process.env.SIGNING_KEY_FILE ? fileKey() : key()));
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/rotate') {
    provider = new Provider(issuer, configuration(key()));
    res.writeHead(204).end();
    return;
  }
  provider.callback()(req, res);
});
console.error(`issuer ${issuer}`);
