// The authorization server of the OAuth tests: oidc-provider (from npm, installed by
// scripts/setup/oauth.sh; CANOPY_OIDC_PROVIDER is its folder), configured — not written —
// here. It listens on 127.0.0.1 on a free port and prints `issuer URL` on stderr.
//
// Clients: `ci` (client_credentials, every scope). Resources (RFC 8707): each of
// RESOURCES (comma-separated), JWT access tokens (RS256) with `aud` = the resource.
// POST /rotate replaces the signing key with a new one under a new `kid`.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(
  pathToFileURL(`${process.env.CANOPY_OIDC_PROVIDER}/lib/index.js`).href
);
const resources = (process.env.RESOURCES || '').split(',').filter(Boolean);
const scopes = ['notes:write', 'db:read'];
let generation = 0;
const key = () => {
  generation += 1;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `key-${generation}`, use: 'sig', alg: 'RS256' };
};

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
  }],
  scopes,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resources[0],
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (!resources.includes(resource)) throw new Error(`unknown resource ${resource}`);
        return {
          scope: scopes.join(' '),
          audience: resource,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});
let provider = new Provider(issuer, configuration(key()));
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/rotate') {
    provider = new Provider(issuer, configuration(key()));
    res.writeHead(204).end();
    return;
  }
  provider.callback()(req, res);
});
console.error(`issuer ${issuer}`);
