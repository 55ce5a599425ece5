#!/usr/bin/python3
"""JWE interop with independent implementations, for test_jose.

  jose_interop.py fixtures DIR   writes JWEs made by latchset's `jose` tool
                                 (ECDH-ES+A256KW) and by Python's cryptography
                                 (ECDH-ES+A256KW, RSA-OAEP-256), with their
                                 private keys as PEM, into DIR
  jose_interop.py decrypt KEY    decrypts the flattened JWE on stdin with the
                                 PEM private key KEY and prints the plaintext

Python's side uses only cryptography's primitives (ECDH, Concat KDF by hand,
AES key wrap, RSA-OAEP, AES-GCM), so it shares no code with veil's.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

PLAINTEXT = {"jose-ec": b"secret from jose", "py-ec": b"secret from python (EC)",
             "py-rsa": b"secret from python (RSA)"}


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def concat_kdf(z):
    alg = b"ECDH-ES+A256KW"
    info = len(alg).to_bytes(4, "big") + alg + bytes(8) + (256).to_bytes(4, "big")
    return hashlib.sha256((1).to_bytes(4, "big") + z + info).digest()


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def encrypt(public, plaintext):
    cek = os.urandom(32)
    if isinstance(public, rsa.RSAPublicKey):
        header = {"alg": "RSA-OAEP-256", "enc": "A256GCM"}
        ek = public.encrypt(cek, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    else:
        eph = ec.generate_private_key(ec.SECP256R1())
        nums = eph.public_key().public_numbers()
        header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM",
                  "epk": {"kty": "EC", "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big")),
                          "y": b64u(nums.y.to_bytes(32, "big"))}}
        ek = aes_key_wrap(concat_kdf(eph.exchange(ec.ECDH(), public)), cek)
    protected = b64u(json.dumps(header).encode())
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return {"protected": protected, "encrypted_key": b64u(ek), "iv": b64u(iv),
            "ciphertext": b64u(sealed[:-16]), "tag": b64u(sealed[-16:])}


def decrypt(key, jwe):
    header = json.loads(unb64u(jwe["protected"]))
    epk = header.get("epk") or jwe.get("header", {}).get("epk")
    ek = unb64u(jwe["encrypted_key"])
    if header["alg"] == "RSA-OAEP-256":
        cek = key.decrypt(ek, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    else:
        peer = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64u(epk["x"]), "big"),
                                             int.from_bytes(unb64u(epk["y"]), "big"),
                                             ec.SECP256R1()).public_key()
        cek = aes_key_unwrap(concat_kdf(key.exchange(ec.ECDH(), peer)), ek)
    aad = jwe["protected"] + ("." + jwe["aad"] if "aad" in jwe else "")
    return AESGCM(cek).decrypt(unb64u(jwe["iv"]), unb64u(jwe["ciphertext"]) + unb64u(jwe["tag"]), aad.encode())


def fixtures(out):
    # latchset jose: key and JWE from the command-line tool itself.
    jwk = json.loads(subprocess.run(["jose", "jwk", "gen", "-i", '{"kty":"EC","crv":"P-256"}'],
                                    check=True, capture_output=True).stdout)
    keyfile = os.path.join(out, "jose-ec.jwk.tmp")
    msgfile = os.path.join(out, "jose-ec.msg.tmp")
    with open(keyfile, "w") as f:
        json.dump(jwk, f)
    with open(msgfile, "wb") as f:
        f.write(PLAINTEXT["jose-ec"])
    jwe = subprocess.run(["jose", "jwe", "enc", "-I", msgfile, "-k", keyfile, "-i",
                          '{"protected":{"alg":"ECDH-ES+A256KW","enc":"A256GCM"}}'],
                         check=True, capture_output=True).stdout
    os.unlink(keyfile)
    os.unlink(msgfile)
    d = int.from_bytes(unb64u(jwk["d"]), "big")
    keys = {"jose-ec": ec.derive_private_key(d, ec.SECP256R1()),
            "py-ec": ec.generate_private_key(ec.SECP256R1()),
            "py-rsa": rsa.generate_private_key(65537, 2048)}
    jwes = {"jose-ec": json.loads(jwe),
            "py-ec": encrypt(keys["py-ec"].public_key(), PLAINTEXT["py-ec"]),
            "py-rsa": encrypt(keys["py-rsa"].public_key(), PLAINTEXT["py-rsa"])}
    for name, key in keys.items():
        assert decrypt(key, jwes[name]) == PLAINTEXT[name]
        with open(os.path.join(out, name + ".pem"), "wb") as f:
            f.write(pem(key))
        with open(os.path.join(out, name + ".jwe.json"), "w") as f:
            json.dump(jwes[name], f)
        with open(os.path.join(out, name + ".txt"), "wb") as f:
            f.write(PLAINTEXT[name])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "fixtures":
        fixtures(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "decrypt":
        with open(sys.argv[2], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        sys.stdout.buffer.write(decrypt(key, json.load(sys.stdin)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
