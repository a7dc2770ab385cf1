// Desktop notifications for new encrypted messages, shown by the browser (never in the forum's
// page). Off until the user turns them on in the options, which also asks the browser for the
// optional "notifications" permission. The router polls the forum through a tab of each enabled
// site (the content script reads the PM list: public metadata), opens the first post of a PM
// with new posts in the engine, and puts the decrypted title in the notification. The title
// goes from the engine to the router and the browser's notification only; the content script
// never gets it. While the key is locked the notification names the sender only.
//
// storage.local: notify = {enabled}, notify_seen = {origin: {topic_id: highest post number seen}}.
// The first poll of a site records what is there without notifying (no flood of old PMs).
export const NOTIFY_ALARM = "efd-notify-poll";
// Discourse's default rate limits leave room for far more; a PM list page and, per PM with news,
// its topic every two minutes keep the cost of a forum tab left open small.
const POLL_MINUTES = 2;
// At most this many notifications per site and poll: a burst becomes one "and n more".
const MAX_PER_POLL = 3;

// Pure: given what was seen per topic (null on a site's first poll) and the PM list's first page,
// the new seen map and the topics with posts that are new and not mine.
export function freshTopics(seen, topics, me) {
  const next = { ...(seen || {}) };
  const fresh = [];
  for (const tp of topics) {
    if (!Number.isInteger(tp.topic_id) || !Number.isInteger(tp.highest_post_number)) continue;
    const before = next[tp.topic_id] ?? 0;
    next[tp.topic_id] = Math.max(before, tp.highest_post_number);
    if (seen === null || seen === undefined || tp.highest_post_number <= before) continue;
    if (tp.last_poster && tp.last_poster.toLowerCase() === String(me).toLowerCase()) continue;
    fresh.push(tp);
  }
  return { seen: next, fresh };
}

// forumIn(origin, op, args), engine(type, payload) -> reply, sites() -> enabled origins,
// isEncrypted(raw), t(key, subs): the router's.
export function createNotifier({ api, forumIn, engine, sites, isEncrypted, t }) {
  const created = [];   // what this poll showed, for test.notify_poll

  async function settings() {
    const { notify } = await api.storage.local.get("notify");
    return { enabled: !!(notify && notify.enabled) };
  }
  async function permitted() {
    return !!api.permissions && api.permissions.contains({ permissions: ["notifications"] });
  }

  async function titleOf(origin, me, topic) {
    const first = topic.posts.find((p) => p.post_number === 1);
    if (!first || !isEncrypted(first.raw)) return { encrypted: false };
    // Locked (or not for me): conv.open fails, and the notification names the sender only.
    const author = await forumIn(origin, "user", { username: first.username }).catch(() => ({ bio_raw: null }));
    const r = await engine("conv.open", { origin, topic_id: topic.topic_id, raw: first.raw, me,
      author: { username: first.username, bio_raw: author.bio_raw } });
    return { encrypted: true, title: r.ok && r.result.status === "valid" ? r.result.title : null };
  }

  // The id carries the topic's URL (a click may come after the router was restarted).
  async function show(id, title, message, url) {
    await api.notifications.create(id, { type: "basic", iconUrl: api.runtime.getURL("icons/icon128.png"),
      title, message });
    created.push({ id, title, message, url });
  }

  async function pollSite(origin) {
    const { username: me, base } = await forumIn(origin, "me", {});
    if (!me) return;
    const list = await forumIn(origin, "my_pms", { pages: 1 });
    const { notify_seen: all = {} } = await api.storage.local.get("notify_seen");
    const { seen, fresh } = freshTopics(all[origin] ?? null, list.topics || [], me);
    await api.storage.local.set({ notify_seen: { ...all, [origin]: seen } });
    let shown = 0;
    for (const tp of fresh) {
      if (shown >= MAX_PER_POLL) break;
      const topic = await forumIn(origin, "topic", { topic_id: tp.topic_id });
      const { encrypted, title } = await titleOf(origin, me, topic);
      if (!encrypted) continue;
      const from = tp.last_poster || "?";
      const url = `${origin}${base || ""}/t/${tp.topic_id}`;
      await show(`efd|${tp.highest_post_number}|${url}`, t("notify_heading"),
        title ? t("notify_message_titled", [from, title]) : t("notify_message_locked", [from]), url);
      shown++;
    }
  }

  // The poll's timer exists only while notifications are on (it wakes the router).
  async function schedule(enabled) {
    if (!enabled) return api.alarms.clear(NOTIFY_ALARM);
    if (!(await api.alarms.get(NOTIFY_ALARM))) api.alarms.create(NOTIFY_ALARM, { periodInMinutes: POLL_MINUTES });
  }

  async function poll() {
    if (!(await settings()).enabled || !(await permitted())) return [];
    const before = created.length;
    for (const origin of await sites()) {
      await pollSite(origin).catch((e) => console.warn("notification poll failed", origin, e && e.message));
    }
    return created.slice(before);
  }

  return {
    poll,
    handlers: {
      async "notify.get"() { return { ...(await settings()), permitted: await permitted() }; },
      async "notify.set"({ enabled }) {
        if (enabled && !(await permitted())) {
          const e = new Error("the browser's notifications permission is not granted");
          e.code = "no_permission";
          throw e;
        }
        await api.storage.local.set({ notify: { enabled } });
        // Turned on again later: start from what is there then, not from what was seen before.
        if (!enabled) await api.storage.local.remove("notify_seen");
        await schedule(enabled);
        return { enabled };
      },
      async "test.notify_poll"() { return { notified: await poll() }; },
    },
    listen() {
      api.alarms.onAlarm.addListener((alarm) => { if (alarm.name === NOTIFY_ALARM) poll(); });
      settings().then((s) => schedule(s.enabled)).catch(() => {});
      // The permission is optional: the event exists only once it is granted.
      const clicked = async (id) => {
        const url = String(id).split("|").slice(2).join("|");
        let origin = null;
        try { origin = new URL(url).origin; } catch (_) { /* not ours */ }
        if (String(id).startsWith("efd|") && origin && (await sites()).includes(origin)) await api.tabs.create({ url });
        api.notifications.clear(id);
      };
      if (api.notifications) api.notifications.onClicked.addListener(clicked);
      else api.permissions?.onAdded?.addListener?.((p) => {
        if ((p.permissions || []).includes("notifications") && api.notifications) api.notifications.onClicked.addListener(clicked);
      });
    },
  };
}
