// oidc-provider configured like Renkei for the comparison in `bench/src/bin/load.rs`:
// client_credentials with client_secret_basic, JWT access tokens signed with the algorithm in
// ALG (RS256 with a 2048-bit key, as Renkei's default; ES256 on P-256; or EdDSA on Ed25519).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const alg = process.env.ALG || 'RS256';
const issuer = `http://127.0.0.1:${port}`;
const generated = {
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  EdDSA: () => generateKeyPairSync('ed25519'),
}[alg];
if (!generated) {
  throw new Error(`ALG=${alg}: use RS256, ES256 or EdDSA`);
}
const { privateKey } = generated();
const jwk = { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: 'peer-1' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench',
    client_secret: 'bench-secret-0123456789abcdef0123456789abcdef',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
  }],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => issuer,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: '',
        audience: issuer,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg } },
      }),
    },
  },
  jwks: { keys: [jwk] },
});
provider.listen(port);
