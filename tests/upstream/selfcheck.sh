#!/usr/bin/env bash
# Self-check of provider.mjs with curl: the authorization code + PKCE flow for both
# flavours, then every control endpoint. Needs node, curl, jq and openssl.
#   npm ci --prefix tests/upstream && bash tests/upstream/selfcheck.sh
set -euo pipefail
cd "$(dirname "$0")"

CLIENT_ID=renkei-selfcheck
CLIENT_SECRET=selfcheck-secret
REDIRECT=http://127.0.0.1:9/cb
TENANT_ID=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
# check DESCRIPTION COMMAND...: runs COMMAND, counts and prints the outcome.
check() {
  local desc=$1
  shift
  if "$@" >/dev/null 2>&1; then
    passed=$((passed + 1))
    echo "ok     $desc"
  else
    failed=$((failed + 1))
    echo "FAILED $desc"
  fi
}

# start FLAVOUR: starts the provider with its stdin on a fifo held open by fd 3.
start() {
  rm -f "$WORK/stdin"
  mkfifo "$WORK/stdin"
  FLAVOUR=$1 TENANT=$TENANT_ID CLIENT_ID=$CLIENT_ID CLIENT_SECRET=$CLIENT_SECRET \
    REDIRECT_URIS="http://127.0.0.1:9/other,$REDIRECT" \
    node provider.mjs <"$WORK/stdin" >"$WORK/stdout" 2>>"$WORK/stderr.log" &
  PID=$!
  exec 3>"$WORK/stdin"
  for _ in $(seq 50); do [ -s "$WORK/stdout" ] && break; sleep 0.1; done
  ISSUER=$(jq -r .issuer "$WORK/stdout")
  CONTROL=$(jq -r .control "$WORK/stdout")
  curl -sf "$ISSUER/.well-known/openid-configuration" >"$WORK/discovery.json"
  AUTH=$(jq -r .authorization_endpoint "$WORK/discovery.json")
  TOKEN=$(jq -r .token_endpoint "$WORK/discovery.json")
  JWKS=$(jq -r .jwks_uri "$WORK/discovery.json")
}

# exited PID: whether the process ends within 5 seconds.
exited() {
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

post() { curl -sf -H 'content-type: application/json' -d "$2" "$CONTROL/$1"; }

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# authorize [CURL_ARGS...]: a fresh authorization request (state, nonce, PKCE S256),
# following redirects one at a time until the redirect_uri; sets LOCATION and HOPS.
authorize() {
  STATE=$(openssl rand -hex 8)
  NONCE=$(openssl rand -hex 8)
  VERIFIER=$(openssl rand 32 | b64url)
  local challenge url
  challenge=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
  url="$AUTH?response_type=code&client_id=$CLIENT_ID&redirect_uri=$REDIRECT&scope=openid%20email%20profile&state=$STATE&nonce=$NONCE&code_challenge=$challenge&code_challenge_method=S256"
  HOPS=0
  while [ "$HOPS" -lt 10 ]; do
    HOPS=$((HOPS + 1))
    url=$(curl -s "$@" -o /dev/null -w '%{redirect_url}' "$url")
    case $url in "$REDIRECT"*) break ;; esac
  done
  LOCATION=$url
}

param() { sed -n "s/.*[?&]$1=\([^&]*\).*/\1/p" <<<"$LOCATION"; }

# exchange [CURL_ARGS...]: redeems the code from LOCATION; sets RESPONSE.
exchange() {
  RESPONSE=$(curl -s "$@" -d grant_type=authorization_code -d "code=$(param code)" \
    -d "redirect_uri=$REDIRECT" -d "code_verifier=$VERIFIER" "$TOKEN")
}

# idtoken: the ID token in RESPONSE as {header, claims, signature}, where signature
# is "valid", "invalid" or "unknown-kid" against the JWKS served right now.
idtoken() {
  curl -sf "$JWKS" >"$WORK/jwks.json"
  node --input-type=module -e '
    import { readFileSync } from "node:fs";
    import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK } from "jose";
    const [token, jwksFile] = process.argv.slice(1);
    const header = decodeProtectedHeader(token);
    const jwk = JSON.parse(readFileSync(jwksFile, "utf8")).keys.find((k) => k.kid === header.kid);
    let signature = "unknown-kid";
    if (jwk) {
      signature = await compactVerify(token, await importJWK(jwk, "RS256")).then(() => "valid", () => "invalid");
    }
    console.log(JSON.stringify({ header, claims: decodeJwt(token), signature }));
  ' "$(jq -r .id_token <<<"$RESPONSE")" "$WORK/jwks.json"
}

# flow [CURL_ARGS...]: authorize, then exchange with client_secret_basic; sets ID.
flow() {
  authorize "$@"
  exchange -u "$CLIENT_ID:$CLIENT_SECRET"
  ID=$(idtoken)
}

is() { jq -e "$2" <<<"$1"; }

now() { date +%s; }

# ---- google flavour ----------------------------------------------------------

start google
echo "# google: issuer $ISSUER"
check "discovery issuer is http://127.0.0.1:<port>" is "$(cat "$WORK/discovery.json")" \
  ".issuer == \"$ISSUER\" and (.issuer | test(\"^http://127.0.0.1:[0-9]+\$\"))"
check "discovery: S256, RS256, code, basic+post" is "$(cat "$WORK/discovery.json")" \
  '(.code_challenge_methods_supported == ["S256"]) and (.id_token_signing_alg_values_supported | index("RS256"))
   and (.response_types_supported | index("code")) and (.token_endpoint_auth_methods_supported | index("client_secret_basic") and index("client_secret_post"))'

flow
check "before any /__test/account: sub is upstream-default, no email" is "$ID" '.claims.sub == "upstream-default" and (.claims | has("email") | not)'

post account '{"sub":"g-123","email":"taro@school.example.jp","email_verified":true,"name":"Taro Yamada","hd":"school.example.jp","amr":["pwd","mfa"]}' >/dev/null
authorize
check "authorization redirects to redirect_uri with code and state, no cookie jar ($HOPS hops)" \
  test -n "$(param code)" -a "$(param state)" = "$STATE"
check "authorization response carries iss" test "$(param iss)" = "$(jq -rn --arg v "$ISSUER" '$v|@uri')"
exchange -u "$CLIENT_ID:$CLIENT_SECRET"
check "token endpoint (client_secret_basic) returns an id_token" is "$RESPONSE" '.id_token and .access_token and .token_type == "Bearer"'
ID=$(idtoken)
check "id_token: RS256, kid of the JWKS, valid signature" is "$ID" '.header.alg == "RS256" and .signature == "valid"'
check "id_token: iss, aud, sub, nonce" is "$ID" \
  ".claims.iss == \"$ISSUER\" and .claims.aud == \"$CLIENT_ID\" and .claims.sub == \"g-123\" and .claims.nonce == \"$NONCE\""
check "id_token: email, email_verified, name, hd, amr" is "$ID" \
  '.claims.email == "taro@school.example.jp" and .claims.email_verified == true and .claims.name == "Taro Yamada"
   and .claims.hd == "school.example.jp" and .claims.amr == ["pwd","mfa"] and (.claims | has("tid") | not)'
exchange -u "$CLIENT_ID:$CLIENT_SECRET"
check "code replay is invalid_grant" is "$RESPONSE" '.error == "invalid_grant"'

authorize
exchange -d "client_id=$CLIENT_ID" -d "client_secret=$CLIENT_SECRET"
check "token endpoint accepts client_secret_post" is "$RESPONSE" '.id_token'
authorize
exchange -u "$CLIENT_ID:wrong"
check "wrong client secret is invalid_client" is "$RESPONSE" '.error == "invalid_client"'
authorize
VERIFIER=$(openssl rand 32 | b64url)
exchange -u "$CLIENT_ID:$CLIENT_SECRET"
check "wrong PKCE verifier is invalid_grant" is "$RESPONSE" '.error == "invalid_grant"'

LOCATION=$(curl -s -o /dev/null -w '%{redirect_url}' \
  "$AUTH?response_type=code&client_id=$CLIENT_ID&redirect_uri=$REDIRECT&scope=openid&state=s1&nonce=n1")
check "PKCE is required: no code_challenge is invalid_request" test "$(param error)" = invalid_request -a "$(param state)" = s1
check "an unknown interaction is a 400" \
  test "$(curl -s -o /dev/null -w '%{http_code}' "${ISSUER}/interaction/nope")" = 400

post account '{"sub":"g-456","email":"hanako@example.com","email_verified":false}' >/dev/null
flow -c "$WORK/jar" -b "$WORK/jar"
check "with a cookie jar too; a new account applies at once; no hd when unset" is "$ID" \
  '.claims.sub == "g-456" and .claims.email_verified == false and (.claims | has("hd") | not) and (.claims | has("name") | not)'
post account '{"sub":"g-789"}' >/dev/null
flow -c "$WORK/jar" -b "$WORK/jar"
check "  the same cookie jar signs in the next account" is "$ID" '.claims.sub == "g-789"'

check "GET /__test/authorizations counts issued codes (7)" test "$(curl -sf "$CONTROL/authorizations")" = 7

kid=$(jq -r '.keys[0].kid' <(curl -sf "$JWKS"))
post tamper '{"mode":"audience"}' >/dev/null; flow
check "tamper audience: other aud, valid signature" is "$ID" ".claims.aud != \"$CLIENT_ID\" and .signature == \"valid\""
post tamper '{"mode":"signature"}' >/dev/null; flow
check "tamper signature: same kid, signature does not verify" is "$ID" ".header.kid == \"$kid\" and .signature == \"invalid\""
post tamper '{"mode":"nonce"}' >/dev/null; flow
check "tamper nonce: other nonce, valid signature" is "$ID" ".claims.nonce != \"$NONCE\" and .signature == \"valid\""
post tamper '{"mode":"expired"}' >/dev/null; flow
check "tamper expired: exp 1h and iat 2h in the past, valid signature" is "$ID" \
  "(.claims.exp - $(now) | . < -3590 and . > -3610) and (.claims.iat - $(now) | . < -7190 and . > -7210) and .signature == \"valid\""
post tamper '{"mode":"issuer"}' >/dev/null; flow
check "tamper issuer: other iss, valid signature" is "$ID" ".claims.iss != \"$ISSUER\" and .signature == \"valid\""
check "tamper tenant is refused for google" test "$(curl -s -o /dev/null -w '%{http_code}' -d '{"mode":"tenant"}' "$CONTROL/tamper")" = 400
check "unknown tamper mode is refused" test "$(curl -s -o /dev/null -w '%{http_code}' -d '{"mode":"bogus"}' "$CONTROL/tamper")" = 400
post tamper '{"mode":"access_denied"}' >/dev/null
authorize
check "tamper access_denied: redirect_uri gets error=access_denied and state, no code" \
  test "$(param error)" = access_denied -a "$(param state)" = "$STATE" -a -z "$(param code)"
post tamper '{"mode":null}' >/dev/null; flow
check "tamper null: untouched token again" is "$ID" \
  ".claims.aud == \"$CLIENT_ID\" and .claims.nonce == \"$NONCE\" and .claims.iss == \"$ISSUER\" and .signature == \"valid\""

new_kid=$(post rotate '' | jq -r .kid)
check "rotate: JWKS lists only the new kid" is "$(curl -sf "$JWKS")" ".keys | length == 1 and .[0].kid == \"$new_kid\" and .[0].kid != \"$kid\""
flow
check "rotate: new tokens are signed with the new key" is "$ID" ".header.kid == \"$new_kid\" and .signature == \"valid\""

post delay '{"ms":1500}' >/dev/null
authorize
t0=$(date +%s%N); exchange -u "$CLIENT_ID:$CLIENT_SECRET"; t1=$(date +%s%N)
check "delay 1500 ms: token endpoint waits ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -ge 1500
t0=$(date +%s%N); curl -sf "$JWKS" >/dev/null; curl -sf "$ISSUER/.well-known/openid-configuration" >/dev/null; t1=$(date +%s%N)
check "delay 1500 ms: JWKS and discovery wait ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -ge 3000
post delay '{"ms":0}' >/dev/null
t0=$(date +%s%N); curl -sf "$JWKS" >/dev/null; t1=$(date +%s%N)
check "delay 0: no wait ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 1000

check "stdout held exactly one line" test "$(wc -l <"$WORK/stdout")" = 1
exec 3>&-
check "exits when its stdin closes" exited "$PID"

# ---- microsoft flavour -------------------------------------------------------

start microsoft
echo "# microsoft: issuer $ISSUER"
check "issuer is http://127.0.0.1:<port>/<tenant>/v2.0" test "$ISSUER" = "http://127.0.0.1:$(jq -r .port "$WORK/stdout")/$TENANT_ID/v2.0"
check "discovery endpoints live under the issuer path" is "$(cat "$WORK/discovery.json")" \
  "[.authorization_endpoint, .token_endpoint, .jwks_uri] | all(startswith(\"$ISSUER/\"))"
check "control API stays at the root" test "$CONTROL" = "http://127.0.0.1:$(jq -r .port "$WORK/stdout")/__test"
post account '{"sub":"m-1","email":"jiro@school.example.jp","email_verified":true,"name":"Jiro","hd":"ignored.example"}' >/dev/null
flow
check "id_token: tid = tenant, iss, email, name, valid signature, no hd" is "$ID" \
  ".claims.tid == \"$TENANT_ID\" and .claims.iss == \"$ISSUER\" and .claims.email == \"jiro@school.example.jp\"
   and .claims.name == \"Jiro\" and (.claims | has(\"hd\") | not) and .signature == \"valid\""
post tamper '{"mode":"tenant"}' >/dev/null; flow
check "tamper tenant: other GUID tid, valid signature" is "$ID" \
  ".claims.tid != \"$TENANT_ID\" and (.claims.tid | test(\"^[0-9a-f-]{36}\$\")) and .signature == \"valid\""
exec 3>&-
exited "$PID"

start microsoft
kill -TERM "$PID"
check "exits on SIGTERM" exited "$PID"
exec 3>&-

echo "$passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  echo "# provider stderr:"
  cat "$WORK/stderr.log"
  exit 1
fi
