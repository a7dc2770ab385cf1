// Opening an encrypted conversation from its topic, for the viewer frame and the inbox page.
// Extension origin only (the results hold plaintext).
import "./constants.js";

const C = globalThis.EFD_CONSTANTS;

// No key of this device opens the conversation. When my profile names the key it is wrapped to
// (the key it publishes, or the one a key change replaced), the error names that key, so the user
// knows which key to restore; otherwise it is "not a participant".
async function notAParticipant({ send, bio, me, first }) {
  const named = await send("conv.missing_key", { raw: first.raw, bio_raw: await bio(me) }).catch(() => ({ known: false }));
  if (named.known) {
    return Object.assign(new Error("encrypted to a key of mine this device does not have"),
      { code: "encrypted_to_old_key", info: { fingerprint: named.digits, where: named.where } });
  }
  return Object.assign(new Error("you are not a participant of this conversation (no key was shared with you)"),
    { code: "not_a_participant" });
}

// Opens the conversation of `topic` (the forum's topic operation result: {topic_id, posts,
// participants}) with conv.open. When the first post holds no key for me, accepts a key share
// addressed to me from a later post, then opens it again. Resolves to conv.open's result; throws
// the engine's error, or one with code "encrypted_to_old_key" (info.fingerprint: the digits of the
// key of mine it is for) or "not_a_participant" when no key reaches me.
//   send(type, payload): the messaging client; bio(username): that user's published bio (or null).
export async function openConversation({ send, bio, origin, me, topic }) {
  const first = topic.posts.find((p) => p.post_number === 1);
  if (!first) throw Object.assign(new Error("the first post is missing"), { code: "malformed" });
  const open = async () => send("conv.open", { origin, topic_id: topic.topic_id, raw: first.raw, me,
    author: { username: first.username, bio_raw: await bio(first.username) },
    allowed_users: topic.participants || [] });
  try {
    return await open();
  } catch (e) {
    if (e.code !== "not_a_participant") throw e;
  }
  for (const p of topic.posts) {
    if (p.post_number === 1 || !p.raw.includes(C.MSG_BEGIN)) continue;
    try {
      const r = await send("conv.accept_share", { origin, topic_id: topic.topic_id, raw: p.raw, me,
        poster: { username: p.username, bio_raw: await bio(p.username) } });
      if (r.status === "valid") return await open();
    } catch (_) { /* not a share for me */ }
  }
  throw await notAParticipant({ send, bio, me, first });
}

// The allowed users of an opened conversation who hold no key to it: conv.open's without_key,
// less those a valid key share in the topic was addressed to (this device may not have read that
// share yet). These were added by the server, or invited without a key share.
export async function membersWithoutKey({ send, bio, origin, topic, opened }) {
  const missing = opened.without_key || [];
  if (!missing.length) return [];
  const later = topic.posts.filter((p) => p.post_number !== 1 && p.raw.includes(C.MSG_BEGIN));
  if (!later.length) return missing;
  const posts = [];
  for (const p of later.slice(-200)) {
    posts.push({ post_id: p.post_id, raw: p.raw, username: p.username, bio_raw: await bio(p.username) });
  }
  const { posts: read } = await send("conv.read", { origin, topic_id: topic.topic_id, posts });
  // a share made before the key last changed gave a key that no longer reads what is new
  const shared = new Set(read.filter((r) => r.kind === "key_share" && r.status === "valid" && r.invitee
    && (r.epoch || 0) >= (opened.epoch || 0)).map((r) => r.invitee.toLowerCase()));
  return missing.filter((u) => !shared.has(u.toLowerCase()));
}
