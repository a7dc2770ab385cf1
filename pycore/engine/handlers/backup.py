"""The key backup PM: making it (opened with the local passphrase), inspecting it without
opening it, and activating this device from it.

| type | payload | result |
|---|---|---|
| backup.make | {passphrase (the local one), backup_passphrase?, paper_key: bool} | {raw, title, info, paper_key? (shown once)} |
| backup.inspect | {raw} | {slots, iterations} |
| backup.restore | {raw, secret (backup passphrase or paper key), new_passphrase} | {unlocked, fingerprint, digits, version, public} |
"""

from __future__ import annotations

from ... import inband
from ...errors import BadRequest, IdentityExists
from ...plugin import paperkey
from .. import args
from .. import store as names


async def make(engine, payload, context):
    backup_pass = payload.get("backup_passphrase")
    if backup_pass is not None and (not isinstance(backup_pass, str) or len(backup_pass) < args.MIN_PASSPHRASE_LENGTH):
        raise BadRequest(f"the backup passphrase must have at least {args.MIN_PASSPHRASE_LENGTH} characters")
    want_paper = payload.get("paper_key") is True
    if backup_pass is None and not want_paper:
        raise BadRequest("a backup needs a backup passphrase or a paper key")
    _rec, inner = await engine.open_identity(payload.get("passphrase"))
    paper = paperkey.generate(engine.prims) if want_paper else None
    iterations = max(int(engine.kdf_iterations), 1)
    raw = await inband.seal_backup(engine.prims, inner, backup_pass, iterations, paper_key=paper)
    out = {"raw": raw, "title": inband.BACKUP_TITLE, "info": inband.backup_info(raw)}
    if paper:
        out["paper_key"] = paper
    return out


async def inspect(engine, payload, context):
    return inband.backup_info(args.text(payload, "raw"))


async def restore(engine, payload, context):
    raw, secret = args.text(payload, "raw"), args.text(payload, "secret")
    new_pass = payload.get("new_passphrase")
    args.check_new_passphrase(new_pass)
    if await engine.store.get(names.IDENTITY):  # before the slow key derivation (checked again when saving)
        raise IdentityExists("an identity already exists: reset it first")
    ident = await inband.open_backup(engine.prims, raw, secret, extractable=True)
    rec = await engine.install_identity(ident, new_pass, "backup")
    return {"unlocked": True, "fingerprint": rec["fingerprint"], "digits": inband.fingerprint_digits(rec["fingerprint"]),
            "version": rec["version"], "public": rec["public"]}


HANDLERS = {
    "backup.make": make,
    "backup.inspect": inspect,
    "backup.restore": restore,
}
