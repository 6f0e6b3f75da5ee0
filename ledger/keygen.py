"""Prints a new ledger signing key: ``python3 -m ledger.keygen``.

The output is the value for ``MAESTRO_LEDGER_SIGNING_KEY`` (base64 of a raw Ed25519 private
key); the key id that checkpoints will name goes to standard error. Needs no settings, no
database and no Django, so it works before Maestro is configured."""

from __future__ import annotations

import sys

from ledger import signing


def main() -> None:
    private_b64 = signing.new_private_key_b64()
    public = signing.public_key_raw(signing.parse_private_key(private_b64).public_key())
    print(private_b64)
    print(f"key id {signing.key_id(public)}: keep the key secret; publish GET /api/ledger/public-key", file=sys.stderr)


if __name__ == "__main__":
    main()
