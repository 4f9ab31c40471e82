"""Mints JWTs signed with the local AWS server's (moto's) Cognito key, for token-attack tests.

Reads {"header": {...}, "claims": {...}, "mode": "rs256" | "hs256-public-key"} on stdin and
prints the token. "hs256-public-key" is the classic algorithm-confusion forgery: an HS256
token whose HMAC secret is the RSA public key a careless verifier would use.
"""

import base64
import gzip
import hashlib
import hmac
import json
import os
import sys

import moto.cognitoidp
from joserfc import jwk, jwt

RESOURCES = os.path.join(os.path.dirname(moto.cognitoidp.__file__), "resources")


def load(name: str) -> dict:
    with gzip.open(os.path.join(RESOURCES, name + ".gz"), "rt") as f:
        return json.load(f)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


request = json.load(sys.stdin)
header, claims = request["header"], request["claims"]
if request.get("mode") == "hs256-public-key":
    public = jwk.RSAKey.import_key(load("jwks-public.json")["keys"][0])
    secret = public.as_pem(private=False)
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    print(signing_input + "." + b64(signature))
else:
    key = jwk.RSAKey.import_key(load("jwks-private.json"))
    print(jwt.encode(header, claims, key))
