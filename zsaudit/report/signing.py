"""Ed25519 signatures of pack manifests (optional: `pip install 'zsaudit[sign]'` for `cryptography`).

The private key is a PEM file (PKCS#8, as `openssl genpkey -algorithm ed25519` writes it) whose
path comes from pack.signing_key in zsaudit.toml, `report --signing-key FILE` or the environment
variable ZSAUDIT_SIGNING_KEY: a path, never the key itself on a command line. An encrypted key's
passphrase comes from ZSAUDIT_SIGNING_KEY_PASSPHRASE. The manifest records the public key and its
fingerprint (sha256 of the raw 32-byte public key); manifest.sig beside it holds the signature of
manifest.json's bytes. `verify --public-key FILE` checks it against a key the auditor trusts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, BadUsage

SIGNATURE = "manifest.sig"     # beside the manifest it signs (manifest.py leaves it out of the file list)
ALGORITHM = "ed25519"
PASSPHRASE_ENV = "ZSAUDIT_SIGNING_KEY_PASSPHRASE"
KEY_ENV = "ZSAUDIT_SIGNING_KEY"
_MAX_KEY_BYTES = 64 * 1024


def _crypto():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise BadUsage("signing needs the `cryptography` package: pip install 'zsaudit[sign]'") from None
    return serialization, ed25519


def _read_key_file(path: Path, what: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise BadUsage(f"{what} {path}: no such file")
    if path.stat().st_size > _MAX_KEY_BYTES:
        raise BadInput(f"{what} {path}: {path.stat().st_size} bytes; expected a PEM key of a few hundred bytes")
    return path.read_bytes()


def raw_public(public_key) -> bytes:
    serialization, _ = _crypto()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key) -> str:
    """sha256 of the raw 32-byte Ed25519 public key, as 'sha256:<hex>' (printed on the cover)."""
    return "sha256:" + hashlib.sha256(raw_public(public_key)).hexdigest()


@dataclass(frozen=True)
class SigningKey:
    private_key: object
    path: Path

    @property
    def public_key(self):
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def header(self) -> dict:
        """The manifest's "signing" entry: which key signs it, and where the signature is."""
        return {"algorithm": ALGORITHM, "public_key": base64.b64encode(raw_public(self.public_key)).decode("ascii"),
                "public_key_fingerprint": self.fingerprint, "signature_file": SIGNATURE,
                "signed": "the bytes of the manifest file beside it"}


def load_private_key(path: str | os.PathLike, what: str = "signing key") -> SigningKey:
    """The Ed25519 private key of a PEM file; BadUsage/BadInput naming the file otherwise."""
    serialization, ed25519 = _crypto()
    path = Path(path)
    data = _read_key_file(path, what)
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode("utf-8") if passphrase else None)
    except TypeError:
        raise BadUsage(f"{what} {path}: the key is encrypted; set {PASSPHRASE_ENV} to its passphrase"
                       if not passphrase else f"{what} {path}: the key is not encrypted; unset {PASSPHRASE_ENV}") from None
    except ValueError as exc:
        raise BadInput(f"{what} {path}: not a PEM private key, or a wrong passphrase ({exc}); expected an Ed25519 "
                       "key as `openssl genpkey -algorithm ed25519 -out FILE` writes it") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise BadInput(f"{what} {path}: a {type(key).__name__.replace('_', '')}; expected an Ed25519 private key")
    _refuse_open_permissions(path, what)
    return SigningKey(key, path)


def _refuse_open_permissions(path: Path, what: str) -> None:
    """A private key others can read signs nothing (as ssh refuses such a key): whoever reads it can
    sign a rewritten night that `verify --public-key` would then accept."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise BadUsage(f"{what} {path}: permissions {mode:04o} let other users read the private key; "
                       f"expected it readable by its owner only: chmod 600 {path}")


def key_from(option: str | os.PathLike | None = None, config=None) -> SigningKey | None:
    """The key that signs the manifests: --signing-key, else pack.signing_key of the config, else the
    file $ZSAUDIT_SIGNING_KEY names (a path, never the key itself), else None (unsigned)."""
    if option is not None:
        return load_private_key(option, what="--signing-key")
    if config is not None and config.signing_key is not None:
        return load_private_key(config.signing_key, what=config.where("pack.signing_key"))
    if os.environ.get(KEY_ENV):
        return load_private_key(os.environ[KEY_ENV], what=f"${KEY_ENV}")
    return None


def load_public_key(path: str | os.PathLike):
    """An Ed25519 public key from a PEM file (`openssl pkey -in KEY -pubout`)."""
    serialization, ed25519 = _crypto()
    path = Path(path)
    data = _read_key_file(path, "--public-key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise BadInput(f"--public-key {path}: not a PEM public key ({exc}); expected the Ed25519 public key "
                       "`openssl pkey -in PRIVATE.pem -pubout` writes") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise BadInput(f"--public-key {path}: not an Ed25519 public key")
    return key


def sign(manifest_path: Path, key: SigningKey) -> None:
    """Write manifest.sig beside the manifest: the signature of its bytes."""
    sig = key.private_key.sign(manifest_path.read_bytes())
    doc = {"algorithm": ALGORITHM, "public_key_fingerprint": key.fingerprint,
           "signature": base64.b64encode(sig).decode("ascii")}
    (manifest_path.parent / SIGNATURE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def check(manifest_path: Path, public_keys) -> list[str]:
    """Problems with the manifest's signature against the trusted public keys (any one may have
    signed it: keys rotate); empty when the manifest is signed by one of them."""
    from cryptography.exceptions import InvalidSignature

    trusted = {fingerprint(k): k for k in public_keys}
    path = manifest_path.parent / SIGNATURE
    if not path.is_file():
        return [f"unsigned: no {SIGNATURE} (expected a signature by {', '.join(sorted(trusted))})"]
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        sig = base64.b64decode(doc["signature"], validate=True)
        claimed = doc.get("public_key_fingerprint")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return [f"damaged: {SIGNATURE} is not a zsaudit signature file"]
    key = trusted.get(claimed)
    if key is None:
        return [f"signed by another key: {SIGNATURE} names {claimed}, trusted: {', '.join(sorted(trusted))}"]
    try:
        key.verify(sig, manifest_path.read_bytes())
    except InvalidSignature:
        return [f"bad signature: {manifest_path.name} does not match {SIGNATURE} (key {claimed}): "
                "the manifest was changed after it was signed"]
    return []


def declared_problems(manifest_path: Path, data: dict) -> list[str]:
    """Without a trusted key: a manifest that says it is signed must have its signature file."""
    signing = data.get("signing")
    if isinstance(signing, dict) and not (manifest_path.parent / SIGNATURE).is_file():
        return [f"missing: {SIGNATURE} (the manifest says it is signed by {signing.get('public_key_fingerprint')})"]
    return []
