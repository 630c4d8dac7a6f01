#!/usr/bin/env python3
"""A third-party verifier of Renkei capability tokens, written only from the documented
vocabulary (policies/README.md) with biscuit-python, not with Renkei's own crate.

Usage: verify_capability.py KEYS_URL REVOKED_URL POLICIES_FILE TOKEN CHILD CATEGORY SCHOOLS CLASSES
Prints "allow" or "deny: <reason>" (SCHOOLS and CLASSES are comma-separated).
"""

import base64
import datetime
import hashlib
import json
import sys
import urllib.request

from biscuit_auth import (Algorithm, AuthorizerBuilder, Biscuit, Fact,
                          PublicKey)


def child_ref(sourced_id: str) -> str:
    digest = hashlib.sha256(sourced_id.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest[:4]).decode("ascii").rstrip("=")[:5]


def main() -> None:
    keys_url, revoked_url, policies_file, token, child, category, schools, classes = sys.argv[1:9]
    with urllib.request.urlopen(keys_url) as response:
        jwks = json.load(response)
    keys = {}
    for key in jwks["keys"]:
        if key.get("kty") == "OKP" and key.get("crv") == "Ed25519":
            raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
            keys[int(key["kid"])] = PublicKey.from_bytes(raw, Algorithm.Ed25519)

    def root(kid):
        return keys[kid]

    try:
        biscuit = Biscuit.from_base64(token, root)
    except Exception as error:  # forged, tampered or unknown key
        print(f"deny: {error}")
        return
    with urllib.request.urlopen(revoked_url) as response:
        revoked = set(json.load(response)["revoked"])
    if any(rid in revoked for rid in biscuit.revocation_ids):
        print("deny: revoked")
        return
    with open(policies_file, encoding="utf-8") as source:
        builder = AuthorizerBuilder(source.read())
    limits = builder.limits()
    limits.max_time = datetime.timedelta(seconds=1)  # the default 1 ms is too tight on a busy host
    builder.set_limits(limits)
    builder.set_time()
    builder.add_fact(Fact("request_category({c})", {"c": category}))
    builder.add_fact(Fact("request_child({c})", {"c": child}))
    builder.add_fact(Fact("request_child_ref({r})", {"r": child_ref(child)}))
    for school in filter(None, schools.split(",")):
        builder.add_fact(Fact("request_school({s})", {"s": school}))
    for klass in filter(None, classes.split(",")):
        builder.add_fact(Fact("request_class({c})", {"c": klass}))
    authorizer = builder.build(biscuit)
    try:
        authorizer.authorize()
        print("allow")
    except Exception as error:
        print(f"deny: {error}")


if __name__ == "__main__":
    main()
