"""The in-band protocol for plugin-less Discourse (docs/PROTOCOL.md is the normative text).

Everything is stored through Discourse's ordinary API as the logged-in user: the public key in
the bio, a key backup in a PM to oneself, conversations as PMs whose posts carry ciphertext.
Pure functions and small dataclasses; all cryptography goes through the injected `prims`
(CPython `cryptography` or WebCrypto in Pyodide) and the plugin-compatible formats in
`pycore.plugin`.

Modules:
    armour     A256 text encoding, BEGIN/END blocks, versioned records
    forum      what we assume of Discourse: limits, titles, the username rule
    keys       published keys in bios, fingerprints, safety codes, signed key changes
    backup     the key backup PM (passphrase and/or paper key slots)
    messages   conversations: first posts, replies, key shares, rekeys (`seal_envelope`)
    attachments  files under their own key, carried by 1-bit PNGs the forum stores losslessly

Public API (all `async` functions take `prims` first):

Encoding
    a256_encode(data: bytes) -> str / a256_decode(text) -> bytes     one letter or digit per byte
    A256_ALPHABET                                                    the 256 characters
Fingerprints
    await key_of(prims, identity) -> PublishedKey                    my own key as others see it
    await key_from_moduli(prims, n_enc, n_sign) -> PublishedKey      (512-byte moduli, e = 65537)
    await public_key(prims, public) -> PublishedKey                  a public identity "1$…" (imported once)
    fingerprint_digits(fp) -> "12345 67890 …" (6 groups)             fp: bytes or 64-hex str
    await safety_code(prims, fp_a, fp_b) -> "12345 … " (12 groups)   same on both sides
    safety_qr(fp_a, fp_b) -> "EFD1:<HEX>:<HEX>" / check_safety_qr(text, fp_a, fp_b) -> bool
Bio
    await sign_key_change(prims, previous, new_identity) -> KeyChange   signed by the old key
    await make_bio_block(prims, identity, *, previous=None, key_change=None) -> str
    await find_bio_block(prims, bio_raw, *, pinned=None) -> PublishedKey   (NoPublishedKey, MalformedInput)
    await verify_key_change(prims, published, old) -> bool
    put_bio_block(bio_raw, block, *, limit=3000) -> str              (BioTooLong)
    remove_bio_block(bio_raw) -> str
    key_exchange_raw(block) -> str / has_key_block(raw) -> bool      the same block in a PM (§3.4)
Backup
    await seal_backup(prims, identity_or_private_string, passphrase=None, iterations=1_000_000,
                      *, paper_key=None) -> str (the post raw)
    await open_backup(prims, text, secret, *, extractable=True) -> Identity
        (WrongPassphrase, BackupCostOutOfRange, MalformedInput, AuthenticationFailed)
    backup_info(text) -> {"slots": [...], "iterations": [...]}       without opening it
Conversations
    await start_conversation(prims, author, author_name, recipients: [(username, PublishedKey)],
                             title, body, now_iso, *, max_chars=32000, files=()) -> NewConversation
    await open_conversation(prims, first_post_raw, me_username, my_identity, author_key,
                            *, key=None, poster_username=None) -> Conversation
    await make_reply(prims, conversation, author, author_name, body, now_iso, *, max_chars, files=()) -> str
    await read_post(prims, conversation, raw, author_keys, *, poster_username=None,
                    my_identities=(), me_username=None) -> ReadPost      also a rekey (its new key
                                                                          when wrapped for me)
    await read_posts(prims, conversation, [PostToRead(raw, author_keys, poster_username,
                     unaccepted)], *, my_identities=(), me_username=None) -> [ReadPost | PycoreError]
                                                 many at once: two backend calls for all of them
    await make_rekey(prims, conversation, author, author_name, staying: [(username, PublishedKey)],
                     removed: [username], now_iso, *, max_chars) -> (raw, new key, epoch)
    parse_envelope(raw) -> Envelope / envelope_epoch(raw) -> int     the public header
    await make_key_share(prims, conversation, inviter, inviter_name, invitee_name, invitee_key,
                         now_iso, *, max_chars) -> str
    await read_key_share(prims, raw, my_identity, inviter_keys, *, poster_username=None) -> KeyShare
    await make_revision(prims, conversation, author, author_name, previous_raw, body, now_iso,
                        *, own_keys=(), max_chars) -> str           an edit of my first post or reply
    is_encrypted_raw(raw) -> bool, is_backup_raw(raw) -> bool, iso_time(seconds) -> str

Attachments (pycore.inband.attachments, PROTOCOL §11)
    await seal_file(prims, data, name, mime, part_bytes=PART_BYTES) -> (FileRef, [part])
    await carrier_png(prims, part, index, count) -> bytes / await read_carrier(prims, png) -> (index, count, part)
    await open_file(prims, ref, parts) -> bytes          (MalformedInput, AuthenticationFailed)
    FileRef.to_signed() / FileRef.from_signed(item, *, uploaded=True) / ref.uploaded_to([short url])
    part_bytes_for(max_image_size_kb) -> int, carrier_links(refs) -> str
    `files=` of start_conversation / make_reply: uploaded FileRefs; Conversation.files and
    ReadPost.files give them back from a valid post (an edit keeps them).

Errors (pycore.errors): NoPublishedKey (MalformedInput), BioTooLong (.excess), MessageTooLarge
(.excess), BackupCostOutOfRange (MalformedInput), NotAParticipant (WrongKey), NotYourPost (an
edit of a post that is not my own valid one), OldConversationKey (an edit of a post written before
the key changed).

Key epochs: `Conversation.key` is epoch 0's (the first post's); `later_keys` maps each later epoch
to its key, and new posts use `newest_epoch`. A post whose epoch key the reader lacks is
"key_not_given".

An edited post (first post or reply) carries `edited_at` and its earlier versions (`history`:
[{"raw", "at"}], oldest first; `history_omitted` counts versions left out for size) inside its
signature: Conversation and ReadPost have them.

`author_key`/`author_keys`: a PublishedKey or a list of them (the keys the user accepted for
that author), or None (then the status is "unverified"). `unaccepted`: fingerprints of keys the
reader has seen published for the author but not accepted; a post signed by one of them is
"key_not_accepted" and shows nothing. Statuses: the STATUS_* constants.
Content (title, body) is only returned when the status is "valid".
"""

from ..errors import BackupCostOutOfRange, BioTooLong, MessageTooLarge, NoPublishedKey, NotAParticipant
from .armour import (A256_ALPHABET, BACKUP_BEGIN, BACKUP_END, KEY_BEGIN, KEY_END, LINE, MSG_BEGIN, MSG_END,
                     a256_decode, a256_encode)
from .backup import (BACKUP_HINT, DEFAULT_ITERATIONS, MAX_ITERATIONS, backup_info, is_backup_raw, open_backup,
                     seal_backup)
from .forum import (BACKUP_TITLE, BIO_LIMIT, FALLBACK_TITLE, KEY_EXCHANGE_TITLE, MAX_POST_CHARS, PLACEHOLDER_TITLE,
                    USERNAME_PATTERN, is_username)
from .keys import (KEY_EXCHANGE_HINT, KeyChange, PublishedKey, check_safety_qr, has_key_block, key_exchange_raw, find_bio_block, fingerprint_digits, key_from_moduli,
                   key_of, public_key, make_bio_block, put_bio_block, remove_bio_block, safety_code, safety_qr,
                   sign_key_change, verify_key_change)
from .messages import (KIND_EPOCH_KEY_SHARE, KIND_EPOCH_REPLY, KIND_KEY_SHARE, KIND_REKEY, KIND_REPLY, KIND_START,
                       MSG_HINT, PROTOCOL_VERSION, REKEY_HINT, STATUS_CANNOT_DECRYPT, STATUS_DUPLICATE, STATUS_INVALID_SIGNATURE,
                       STATUS_KEY_NOT_ACCEPTED, STATUS_KEY_NOT_GIVEN, STATUS_UNSIGNED, STATUS_UNVERIFIED, STATUS_VALID,
                       STATUS_WRONG_AUTHOR, STATUS_WRONG_CONVERSATION, Conversation, Envelope, KeyShare,
                       NewConversation, PostToRead, ReadPost, envelope_epoch, is_encrypted_raw, iso_time, make_key_share,
                       make_rekey, make_reply, make_revision, may_be_wrapped_to, open_conversation, parse_envelope,
                       read_key_share, read_post, read_posts, start_conversation)
