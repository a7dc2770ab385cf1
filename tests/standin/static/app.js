// The stand-in's single-page app: a small vanilla-JS imitation of Discourse's Ember frontend.
// It reproduces the DOM and behaviour an extension meets on a real Discourse (the Glimmer post
// stream with its cloaking, embedded replies, the post menu, the quote toolbar, keyboard
// shortcuts, the composer with both editors and its draft autosave, subfolder installs), not
// Discourse's look. docs/DISCOURSE-FIDELITY.md names the Discourse source of each part.
(function () {
  "use strict";

  const outlet = document.getElementById("main-outlet");
  const replyControl = document.getElementById("reply-control");
  const preloadEl = document.getElementById("data-preloaded");
  const preloaded = JSON.parse(preloadEl ? preloadEl.textContent : "{}");
  const preload = (k) => (k in preloaded ? JSON.parse(preloaded[k]) : undefined);
  const currentUser = preload("currentUser") || null;
  const siteSettings = preload("siteSettings") || {};
  const standinCfg = preload("standin") || {};
  let csrfToken = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  let routeCount = 0;
  // A messageBus client id: the drafts' "owner".
  const clientId = Math.random().toString(36).slice(2) + Date.now().toString(36);

  // ------------------------------------------------------------------ subfolder installs (lib/get-url.js)
  const baseMeta = document.querySelector('meta[name="discourse-base-uri"]');
  const BASE = baseMeta ? String(baseMeta.content || "").replace(/\/+$/, "") : "";
  function getURL(url) {
    if (!url) return BASE || "/";
    if (/^([a-z][a-z0-9+.-]*:)?\/\//i.test(url)) return url;        // absolute or protocol-relative
    if (BASE && (url === BASE || url.startsWith(BASE + "/") || url.startsWith(BASE + "?"))) return url;
    return BASE + (url.startsWith("/") ? url : "/" + url);
  }
  function appPath(pathname) {
    if (BASE && (pathname === BASE || pathname.startsWith(BASE + "/"))) return pathname.slice(BASE.length) || "/";
    return pathname;
  }

  // ------------------------------------------------------------------ helpers
  function h(tag, attrs, children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k === "html") el.innerHTML = v;
      else if (k === "style") el.setAttribute("style", v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return el;
  }

  // DButton: <button class="btn btn-icon-text ..."><span class="d-button-label">label</span></button>
  function dbutton(cls, label, onclick, extra) {
    return h("button", { class: `btn ${label ? "btn-icon-text" : "btn-icon"} ${cls}`, type: "button", ...(extra || {}), onclick },
      label ? [h("span", { class: "d-button-label", text: label })] : []);
  }

  // Discourse's mobile layout follows the viewport's width alone and switches live on resize:
  // models/site.js mobileView = not the `sm` breakpoint (services/capabilities.js: min-width 40rem);
  // components/d-styles.gjs then sets both class pairs on <html> from it. The timeline needs 925 px
  // (topic-navigation.gjs); below that, and always on mobile, the topic shows its progress instead.
  const wideEnough = window.matchMedia("(min-width: 40rem)");
  const mobileView = () => !wideEnough.matches;
  function applyViewClasses() {
    const m = mobileView();
    const root = document.documentElement.classList;
    root.toggle("mobile-view", m); root.toggle("desktop-view", !m);
    root.toggle("mobile-device", m); root.toggle("not-mobile-device", !m);
  }

  // Like Discourse's ajax(): same-origin fetch with CSRF + XHR headers; form or JSON bodies.
  async function ajax(method, url, data, opts) {
    opts = opts || {};
    const init = {
      method,
      credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest", Accept: "application/json" },
    };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrfToken;
    if (data && opts.json) {
      init.body = JSON.stringify(data);
      init.headers["Content-Type"] = "application/json";
    } else if (data) {
      const body = new URLSearchParams();
      for (const [k, v] of Object.entries(data)) {
        if (v === undefined || v === null) continue;
        if (typeof v === "object") for (const [k2, v2] of Object.entries(v)) { if (v2 !== undefined && v2 !== null) body.append(`${k}[${k2}]`, String(v2)); }
        else body.append(k, String(v));
      }
      init.body = body;
      init.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8";
    }
    const r = await fetch(getURL(url), init);
    const text = await r.text();
    if (r.status === 403 && text === '["BAD CSRF"]' && !opts.retried) {
      const c = await fetch(getURL("/session/csrf.json"), { credentials: "same-origin", headers: init.headers });
      csrfToken = (await c.json()).csrf;
      return ajax(method, url, data, { ...opts, retried: true });
    }
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    return { status: r.status, ok: r.ok, json, text, headers: r.headers };
  }

  function errorText(res) {
    const j = res.json || {};
    if (Array.isArray(j.errors)) return j.errors.join("\n");
    return j.error || j.message || j.failed || `HTTP ${res.status}`;
  }

  const emit = (name, detail) => document.dispatchEvent(new CustomEvent(name, { detail }));

  // ------------------------------------------------------------------ dialogs (service:dialog)
  function dialog(message, buttons) {
    closeDialog();
    const holder = h("div", { id: "dialog-holder", class: "dialog-container" }, [
      h("div", { class: "dialog-overlay" }),
      h("div", { class: "dialog-content", role: "dialog" }, [
        h("div", { class: "dialog-body", text: message }),
        h("div", { class: "dialog-footer" }, (buttons || [{ label: "OK", cls: "btn-primary" }]).map((b) =>
          dbutton(b.cls || "btn-default", b.label, () => { closeDialog(); if (b.action) b.action(); }))),
      ]),
    ]);
    document.body.append(holder);
  }
  function closeDialog() {
    const d = document.getElementById("dialog-holder");
    if (d) d.remove();
  }

  // ------------------------------------------------------------------ header
  function renderHeader() {
    const box = document.querySelector(".header-user");
    if (!box) return;
    box.textContent = "";
    if (currentUser) {
      const u = currentUser.username;
      box.append(
        h("a", { id: "current-user", class: "header-dropdown-toggle current-user", href: getURL(`/u/${u}`), text: u }), " ",
        h("a", { class: "user-messages-link", href: getURL(`/u/${u}/messages`), text: "Messages" }), " ",
        h("a", { id: "new-message-link", href: getURL("/new-message"), text: "New message" }), " ",
        h("a", { class: "preferences-link", href: getURL(`/u/${u}/preferences/profile`), text: "Profile" }), " ",
        h("button", { id: "standin-logout", class: "btn logout", text: "Log out", onclick: logout }),
      );
    } else {
      box.append(h("a", { class: "btn btn-primary login-button", href: getURL("/login"), text: "Log in" }));
    }
  }

  async function logout() {
    await ajax("DELETE", `/session/${encodeURIComponent(currentUser.username)}.json`);
    window.location.href = getURL("/");
  }

  // ------------------------------------------------------------------ router
  const routes = [
    [/^\/login\/?$/, renderLogin, "login"],
    [/^\/new-message\/?$/, renderNewMessage, "new-message"],
    [/^\/t\/(?:[^/]+\/)?(\d+)(?:\/(\d+))?\/?$/, renderTopic, "topic"],
    [/^\/u\/([^/]+)\/messages\/group\/([^/]+)\/?$/, (m, t) => renderMessages(m[1], "group", t, m[2]), "user-messages-group"],
    [/^\/u\/([^/]+)\/messages\/(sent|archive|new|unread)\/?$/, (m, t) => renderMessages(m[1], m[2], t), "user-messages-box"],
    [/^\/u\/([^/]+)\/messages\/?$/, (m, t) => renderMessages(m[1], "inbox", t), "user-messages"],
    [/^\/u\/([^/]+)\/preferences(?:\/profile)?\/?$/, renderPreferences, "user-preferences"],
    [/^\/u\/([^/]+)(?:\/summary|\/activity)?\/?$/, renderProfile, "user"],
    [/^\/(latest)?\/?$/, renderHome, "home"],
  ];

  const routeBodyClasses = ["archetype-private_message", "archetype-regular", "user-messages-page",
    "user-preferences-page", "user-page", "navigation-topics", "login-page", "new-message-page"];

  let renderToken = 0;
  async function route() {
    const token = ++renderToken;
    const path = appPath(window.location.pathname);
    document.body.classList.remove(...routeBodyClasses);
    document.body.removeAttribute("data-standin-ready");
    leaveTopic();
    outlet.textContent = "";
    let name = "not-found";
    for (const [re, fn, n] of routes) {
      const m = path.match(re);
      if (m) {
        name = n === "user-messages-box" ? `user-messages-${m[2]}` : n;
        document.body.dataset.standinRoute = name;
        try { await fn(m, token); } catch (e) { showError(String(e && e.stack || e)); }
        break;
      }
    }
    if (name === "not-found") {
      document.body.dataset.standinRoute = name;
      outlet.append(h("div", { class: "page-not-found", text: "Oops! That page doesn’t exist or is private." }));
    }
    if (token !== renderToken) return;
    routeCount++;
    document.body.dataset.standinReady = "1";
    emit("standin:rendered", { route: name, path });
  }

  function navigate(url, replace) {
    const full = getURL(url);
    if (replace) history.replaceState({}, "", full);
    else history.pushState({}, "", full);
    return route();
  }

  // Intercept same-origin links like Ember's router: no page reload, content scripts run once.
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download") || a.dataset.fullReload !== undefined) return;
    const url = new URL(a.href, window.location.href);
    if (url.origin !== window.location.origin) return;
    if (BASE && url.pathname !== BASE && !url.pathname.startsWith(BASE + "/")) return;
    const p = appPath(url.pathname);
    if (p.startsWith("/assets/") || p.startsWith("/raw/")) return;
    e.preventDefault();
    if (url.pathname + url.search !== window.location.pathname + window.location.search) navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => route());

  function showError(msg) {
    outlet.append(h("div", { class: "alert alert-error standin-error", text: msg }));
  }

  function requireLogin() {
    if (currentUser) return true;
    outlet.append(h("div", { class: "alert alert-info", text: "You need to log in." }),
      h("a", { href: getURL("/login"), class: "btn btn-primary", text: "Log in" }));
    return false;
  }

  // ------------------------------------------------------------------ simple pages
  function renderHome() {
    document.body.classList.add("navigation-topics");
    const box = h("div", { class: "list-container" });
    if (currentUser) {
      box.append(h("h2", { text: `Welcome, ${currentUser.username}` }),
        h("p", {}, [h("a", { href: getURL(`/u/${currentUser.username}/messages`), class: "inbox-link", text: "Your messages" })]),
        h("p", {}, [h("a", { href: getURL("/new-message"), class: "new-message-link", text: "New message" })]));
    } else {
      box.append(h("p", { text: "Welcome to the stand-in forum." }), h("a", { href: getURL("/login"), class: "btn btn-primary", text: "Log in" }));
    }
    outlet.append(box);
  }

  function renderLogin() {
    document.body.classList.add("login-page");
    const err = h("div", { id: "modal-alert", class: "alert alert-error", hidden: true });
    const name = h("input", { id: "login-account-name", name: "login", type: "text", autocomplete: "username" });
    const pw = h("input", { id: "login-account-password", name: "password", type: "password", autocomplete: "current-password" });
    const form = h("form", { id: "login-form", class: "login-form" }, [
      err,
      h("label", { for: "login-account-name", text: "Username" }), name,
      h("label", { for: "login-account-password", text: "Password" }), pw,
      h("button", { id: "login-button", class: "btn btn-primary", type: "submit", text: "Log in" }),
    ]);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const res = await ajax("POST", "/session", { login: name.value, password: pw.value });
      if (res.ok && res.json && res.json.user) {
        window.location.href = getURL("/"); // Discourse reloads the app after logging in
      } else {
        err.hidden = false;
        err.textContent = errorText(res);
      }
    });
    outlet.append(h("div", { class: "login-fullpage" }, [h("h1", { text: "Log in" }), form]));
  }

  // ------------------------------------------------------------------ user pages
  function userNavPrimary(username, active) {
    const item = (key, label, href) => h("li", { class: `user-nav__${key}` }, [
      h("a", { href: getURL(href), class: active === key ? "active" : null, text: label })]);
    const items = [item("summary", "Summary", `/u/${username}/summary`), item("activity", "Activity", `/u/${username}/activity`)];
    if (currentUser && (currentUser.username.toLowerCase() === username.toLowerCase() || currentUser.admin)) {
      items.push(item("messages", "Messages", `/u/${username}/messages`));
      items.push(item("preferences", "Preferences", `/u/${username}/preferences`));
    }
    return h("nav", { class: "user-navigation user-navigation-primary" }, [h("ul", { class: "nav nav-pills user-nav" }, items)]);
  }

  const BOX_LABELS = { inbox: "Inbox", sent: "Sent", new: "New", unread: "Unread", archive: "Archive" };
  const BOX_PATHS = { inbox: "private-messages", sent: "private-messages-sent", new: "private-messages-new",
    unread: "private-messages-unread", archive: "private-messages-archive" };

  async function renderMessages(rawUser, box, token, group) {
    if (!requireLogin()) return;
    document.body.classList.add("user-messages-page");
    const username = decodeURIComponent(rawUser);
    const url = box === "group"
      ? `/topics/private-messages-group/${encodeURIComponent(username)}/${encodeURIComponent(decodeURIComponent(group))}.json`
      : `/topics/${BOX_PATHS[box]}/${encodeURIComponent(username)}.json`;
    const res = await ajax("GET", url);
    if (token !== renderToken) return;
    const label = box === "group" ? decodeURIComponent(group) : BOX_LABELS[box];
    const base = `/u/${username}/messages`;
    const options = Object.entries(BOX_LABELS).map(([k, v]) => h("li", { class: "select-kit-row", "data-value": k, "data-name": v }, [
      h("a", { href: getURL(k === "inbox" ? base : `${base}/${k}`), text: v })]));
    for (const g of (currentUser.groups || []).filter((x) => x.has_messages)) {
      options.push(h("li", { class: "select-kit-row", "data-value": `group-${g.name}`, "data-name": g.name }, [
        h("a", { href: getURL(`${base}/group/${g.name}`), text: g.name })]));
    }
    // The messages dropdown is a select-kit combo box; the stand-in's opens on click.
    const dropdown = h("details", { class: "select-kit combo-box user-nav-messages-dropdown" }, [
      h("summary", { class: "select-kit-header combo-box-header", "data-name": label, "data-value": box }, [
        h("span", { class: "selected-name", text: label })]),
      h("ul", { class: "select-kit-collection" }, options),
    ]);
    const newMessage = dbutton("btn-primary new-private-message", "New Message", () =>
      openComposer({ action: "privateMessage", draftKey: "new_private_message", recipients: box === "group" ? decodeURIComponent(group) : "" }));
    outlet.append(h("div", { class: "new-user-wrapper user-messages" }, [
      userNavPrimary(username, "messages"),
      h("div", { class: "user-navigation user-navigation-secondary" }, [
        h("ol", { class: "category-breadcrumb" }, [h("li", {}, [dropdown])]),
        h("div", { class: "navigation-controls" }, [newMessage]),
      ]),
      h("section", { class: "user-content", id: "user-content" }),
    ]));
    const content = outlet.querySelector("#user-content");
    if (!res.ok) return showError(errorText(res));
    const tbody = h("tbody", { class: "topic-list-body" });
    content.append(h("table", { class: "topic-list" }, [
      h("thead", { class: "topic-list-header" }, [h("tr", {}, [h("th", { class: "default", text: "Topic" }),
        h("th", { class: "posts", text: "Replies" }), h("th", { class: "activity", text: "Activity" })])]),
      tbody]));
    let more = appendTopicRows(tbody, res.json);
    if (!res.json.topic_list.topics.length) {
      content.append(h("div", { class: "empty-state" }, [h("span", { class: "empty-state-title", text: "You have no messages here." })]));
    }
    // TopicList's infinite scrolling: follow more_topics_url when the bottom comes into view.
    const sentinel = h("div", { class: "load-more-sentinel" });
    content.append(sentinel);
    let loading = false;
    const io = new IntersectionObserver(async (entries) => {
      if (!more || loading || !entries.some((e) => e.isIntersecting)) return;
      loading = true;
      const r = await ajax("GET", more);
      loading = false;
      if (token !== renderToken || !r.ok) return;
      more = appendTopicRows(tbody, r.json);
      emit("standin:list-loaded", { count: tbody.children.length });
    });
    io.observe(sentinel);
  }

  function appendTopicRows(tbody, json) {
    for (const t of json.topic_list.topics) {
      tbody.append(h("tr", { class: `topic-list-item${t.unseen ? " unseen-topic" : ""}`, "data-topic-id": t.id }, [
        h("td", { class: "main-link topic-list-data" }, [
          h("span", { class: "link-top-line" }, [
            h("a", { class: "title raw-link raw-topic-link", href: getURL(`/t/${t.slug}/${t.id}`), "data-topic-id": t.id, html: t.fancy_title })]),
        ]),
        h("td", { class: "num posts topic-list-data", text: String(t.reply_count) }),
        h("td", { class: "num activity topic-list-data", text: t.last_poster_username }),
      ]));
    }
    return json.topic_list.more_topics_url || null;
  }

  async function renderProfile(m, token) {
    document.body.classList.add("user-page");
    const username = decodeURIComponent(m[1]);
    const res = await ajax("GET", `/u/${encodeURIComponent(username)}.json`);
    if (token !== renderToken) return;
    if (!res.ok) return showError(errorText(res));
    const u = res.json.user;
    const viewingSelf = currentUser && currentUser.username === u.username;
    const controls = [];
    // templates/user.gjs: the message button exists only if can_send_private_message_to_user
    if (u.can_send_private_message_to_user) {
      controls.push(h("li", {}, [dbutton("btn-primary compose-pm", "Message", () =>
        openComposer({ action: "privateMessage", draftKey: "new_private_message", recipients: u.username }))]));
    }
    if (viewingSelf) {
      controls.push(h("li", {}, [h("a", { class: "btn btn-default user-preferences-link", href: getURL(`/u/${u.username}/preferences/profile`), text: "Preferences" })]));
    }
    outlet.append(h("div", { class: "new-user-wrapper" }, [
      h("div", { class: `container${viewingSelf ? " viewing-self" : ""}${u.profile_hidden ? " profile-hidden" : ""}` }, [
        h("section", { class: "user-main", "data-user-id": u.id }, [
          h("section", { class: "about no-background" }, [
            h("div", { class: "details" }, [
              h("div", { class: "primary" }, [
                h("div", { class: "user-profile-avatar" }, [h("span", { class: "avatar-letter", text: u.username.slice(0, 1).toUpperCase() })]),
                h("div", { class: "primary-textual" }, [
                  h("div", { class: "user-profile-names" }, [
                    h("div", { class: "username user-profile-names__primary", text: u.username }),
                    h("div", { class: "full-name user-profile-names__secondary", text: u.name || "" }),
                  ]),
                  h("div", { class: "bio", html: u.bio_cooked || "" }),
                ]),
                h("section", { class: "controls" }, [h("ul", {}, controls)]),
              ]),
            ]),
          ]),
          userNavPrimary(u.username, "summary"),
        ]),
      ]),
    ]));
  }

  async function renderPreferences(m, token) {
    if (!requireLogin()) return;
    document.body.classList.add("user-preferences-page");
    const username = decodeURIComponent(m[1]);
    const res = await ajax("GET", `/u/${encodeURIComponent(username)}.json`);
    if (token !== renderToken) return;
    if (!res.ok) return showError(errorText(res));
    const user = res.json.user;
    const status = h("span", { class: "saved", hidden: true, text: "Saved!" });
    const err = h("div", { class: "alert alert-error bio-error", hidden: true });
    const area = h("textarea", { class: "d-editor-input", id: "bio-raw" });
    area.value = user.bio_raw || "";
    const save = h("button", { class: "btn btn-primary save-changes", type: "button", text: "Save Changes" });
    save.addEventListener("click", async () => {
      status.hidden = true; err.hidden = true;
      const data = user.can_change_bio ? { bio_raw: area.value } : {};
      const r = await ajax("PUT", `/u/${encodeURIComponent(username)}.json`, data);
      if (r.ok) status.hidden = false;
      else { err.hidden = false; err.textContent = errorText(r); }
    });
    // preferences/profile: no bio editor when DiscourseConnect overrides bios (can_change_bio)
    const bio = user.can_change_bio ? h("div", { class: "control-group pref-bio" }, [
      h("label", { class: "control-label", text: "About me" }),
      h("div", { class: "bio-composer input-xxlarge" }, [h("div", { class: "d-editor" }, [
        h("div", { class: "d-editor-container" }, [h("div", { class: "d-editor-textarea-wrapper" }, [area])])])]),
    ]) : null;
    outlet.append(h("div", { class: "new-user-wrapper" }, [
      userNavPrimary(username, "preferences"),
      h("section", { class: "user-content user-preferences" }, [
        h("h2", { text: "Profile" }), bio, err, h("div", { class: "save-button" }, [save, status]),
      ]),
    ]));
  }

  function renderNewMessage() {
    if (!requireLogin()) return;
    document.body.classList.add("new-message-page");
    const q = new URLSearchParams(window.location.search);
    outlet.append(h("div", { class: "new-message-route" }, [h("p", { text: "Write your message below." })]));
    openComposer({ action: "privateMessage", draftKey: "new_private_message",
      recipients: q.get("username") || q.get("groupname") || "", title: q.get("title") || "", reply: q.get("body") || "" });
  }

  // ------------------------------------------------------------------ topic page & post stream
  // topicState: {topic, posts: Map(post_number -> post), order: [post_number], loaded: Set(id),
  //              stream: [id], ui: Map(post_number -> {repliesBelow, repliesAbove, expanded})}
  let topicState = null;
  let selectedPostNumber = null;

  function leaveTopic() {
    tracker.stop();
    tracker.cloaked.clear();
    tracker.heights.clear();
    tracker.prevent.clear();
    tracker.held.clear();
    hideQuoteButton();
    const progress = document.getElementById("topic-progress-wrapper");
    if (progress) progress.remove();
    topicState = null;
    selectedPostNumber = null;
  }

  async function renderTopic(m, token) {
    if (!requireLogin()) return;
    const id = Number(m[1]);
    const near = m[2] ? Number(m[2]) : null;
    let topic = near ? undefined : preload(`topic_${id}`);
    if (preloaded[`topic_${id}`]) delete preloaded[`topic_${id}`]; // only the first render uses the preload
    if (!topic) {
      const res = await ajax("GET", near ? `/t/${id}/${near}.json` : `/t/${id}.json`);
      if (token !== renderToken) return;
      if (!res.ok) return showError(errorText(res));
      topic = res.json;
    }
    topicState = { topic, posts: new Map(), order: [], loaded: new Set(), stream: topic.post_stream.stream.slice(), ui: new Map(), reported: new Set() };
    document.body.classList.add(`archetype-${topic.archetype}`);
    const title = h("div", { id: "topic-title" }, [h("div", { class: "title-wrapper" }, [
      h("h1", { "data-topic-id": topic.id }, [h("a", { class: "fancy-title", href: getURL(`/t/${topic.slug}/${topic.id}`), html: topic.fancy_title })]),
    ])]);
    const stream = h("div", { class: "post-stream" });
    const footerButtons = [];
    if (topic.details.can_create_post) {
      footerButtons.push(dbutton("btn-primary create topic-footer-button", "Reply", () => openReply(), { title: "begin composing a reply to this topic" }));
    }
    const footer = h("div", { id: "topic-footer-buttons", role: "region", "aria-label": "Topic controls" }, [
      h("div", { class: "topic-footer-main-buttons" }, footerButtons)]);
    outlet.append(h("div", { class: "container posts" }, [title, h("div", { class: "row" }, [
      h("section", { class: "topic-area", id: "topic", "data-topic-id": topic.id }, [
        h("div", { class: "posts-wrapper" }, [stream, h("div", { class: "post-stream__bottom-boundary" })]),
      ])]), footer]));
    appendPosts(topic.post_stream.posts);
    updateTopicProgress();
    maybeLoadMore();
    if (standinCfg.cloaking) tracker.start();
    if (near) {
      const el = itemFor(near) || document.getElementById(`post_${near}`);
      if (el) el.scrollIntoView();
    }
    scheduleTimings();
  }

  // topic-progress.gjs: `#topic-progress-wrapper > nav#topic-progress`, fixed at the bottom, when
  // the topic has more than one post and no timeline is shown.
  function updateTopicProgress() {
    const old = document.getElementById("topic-progress-wrapper");
    const total = topicState ? topicState.stream.length : 0;
    const shown = topicState && total > 1 && (mobileView() || window.innerWidth < 925);
    if (!shown) { if (old) old.remove(); return; }
    if (old && old.dataset.total === String(total)) return;
    const nums = h("div", { class: "nums" }, [h("h4", { text: "1" }), h("span", { class: "d-icon", text: "/" }),
      h("h4", { text: String(total) })]);
    const wrapper = h("div", { id: "topic-progress-wrapper", "data-total": total }, [
      h("nav", { id: "topic-progress", title: "jump to post", "aria-label": "topic progress" }, [nums])]);
    if (old) old.replaceWith(wrapper); else document.body.append(wrapper);
  }

  // A change between the layouts updates the rendered components in place (tracked state, not a
  // re-render of the post): the post's classes, its menu, the progress and the composer's toolbar.
  function onViewChange() {
    applyViewClasses();
    if (topicState) {
      for (const el of document.querySelectorAll(".post-stream > .topic-post[data-post-number]")) {
        const p = topicState.posts.get(Number(el.dataset.postNumber));
        const nav = el.querySelector(":scope > article nav.post-controls");
        if (!p || !nav) continue;
        el.classList.toggle("post--sticky-avatar", !mobileView());
        el.classList.toggle("sticky-avatar", !mobileView());
        nav.replaceWith(postMenu(p, uiFor(p.post_number), nextPost(p.post_number)));
      }
      updateTopicProgress();
    }
    updateComposerToolbarToggle();
  }

  function itemFor(n) {
    return document.querySelector(`.post-stream > [data-post-number="${n}"]`);
  }

  function indexOf(n) { return topicState ? topicState.order.indexOf(Number(n)) : -1; }
  function prevPost(n) { const i = indexOf(n); return i > 0 ? topicState.posts.get(topicState.order[i - 1]) : null; }
  function nextPost(n) { const i = indexOf(n); return i >= 0 && i + 1 < topicState.order.length ? topicState.posts.get(topicState.order[i + 1]) : null; }
  function uiFor(n) {
    if (!topicState.ui.has(n)) topicState.ui.set(n, { repliesBelow: [], repliesAbove: null, expanded: false });
    return topicState.ui.get(n);
  }

  // components/post/small-action.gjs: an article directly in the stream, no data-post-id, no .cooked
  const ACTION_TEXT = { invited_user: "invited %{who}", removed_user: "removed %{who}", user_left: "%{who} left this message",
    private_topic: "made this topic a personal message" };
  function smallAction(p) {
    const text = (ACTION_TEXT[p.action_code] || p.action_code || "").replace("%{who}", `@${p.action_code_who || p.username}`);
    return h("article", { id: `post_${p.post_number}`, class: "small-action onscreen-post", role: "region",
      "aria-label": `post #${p.post_number} by @${p.username}` }, [
      h("div", { class: "topic-avatar" }, [h("span", { class: "d-icon", text: "•" })]),
      h("div", { class: "small-action-desc" }, [
        h("div", { class: "small-action-contents" }, [h("a", { class: "trigger-user-card", "data-user-card": p.username, text: p.username }), h("p", { text })]),
        h("div", { class: "small-action-buttons" }),
      ]),
    ]);
  }

  // post-stream.gjs + post.gjs with @cloaked: the div keeps id, data-post-number, role, aria-*,
  // gets class post-stream--cloaked and an inline height; the article is not rendered.
  function cloakedItem(p, height) {
    return h("div", { id: `post_${p.post_number}`, class: "post-stream--cloaked", "data-post-number": p.post_number,
      role: "region", "aria-label": `post #${p.post_number} by @${p.username}`, "aria-busy": "true",
      style: `height: ${Math.max(1, Math.round(height))}px;` }, [h("p", { class: "sr-only", text: "Loading post content…" })]);
  }

  function avatar(username, cls) {
    return h("a", { class: `trigger-user-card ${cls || "main-avatar"}`, href: getURL(`/u/${username}`), "data-user-card": username, "aria-hidden": "true" }, [
      h("span", { class: "avatar-letter avatar", text: username.slice(0, 1).toUpperCase() })]);
  }

  function posterNames(p) {
    return h("div", { class: "names trigger-user-card" }, [
      h("span", { class: "first username" }, [h("a", { href: getURL(`/u/${p.username}`), "data-user-card": p.username, text: p.username })]),
      p.name ? h("span", { class: "second full-name", text: p.name }) : null,
    ]);
  }

  // components/post/embedded.gjs
  function embeddedReply(r, above) {
    return h("div", { class: "reply", "data-post-id": r.id, role: above ? null : "region" }, [
      h("div", { class: "topic-avatar" }, [avatar(r.username)]),
      h("div", { class: "row" }, [h("div", { class: "topic-body" }, [
        h("div", { class: "topic-meta-data embedded-reply" }, [
          posterNames(r),
          h("div", { class: "post-link-arrow" }, [h("a", { class: "post-info arrow", href: getURL(`/t/${r.topic_slug}/${r.topic_id}/${r.post_number}`),
            title: "jump to reply", text: above ? "↑ Jump to post" : "↓ Jump to post" })]),
        ]),
        h("div", { class: "cooked", html: r.cooked }),
      ])]),
    ]);
  }

  function postItem(p) {
    const st = uiFor(p.post_number);
    const mine = currentUser && p.user_id === currentUser.id;
    const prev = prevPost(p.post_number);
    const next = nextPost(p.post_number);
    const directlyAbove = prev && p.reply_to_post_number === prev.post_number;
    const tabShown = p.reply_to_user && p.reply_to_user.username && (!directlyAbove || !siteSettings.suppress_reply_directly_above);
    const hasAbove = st.repliesAbove && st.repliesAbove.length > 0;
    const repliesShown = st.repliesBelow.length > 0;
    const rows = [];
    if (hasAbove) {
      rows.push(h("div", { class: "post__row row" }, [h("section", {
        id: `embedded-posts__top--${p.post_number}`,
        class: "post__embedded-posts post__embedded-posts--top post__body embedded-posts top topic-body" }, [
        dbutton("post__collapse-button post__collapse-button-down collapse-down", null, () => toggleReplyAbove(p), { title: "collapse" }),
        ...st.repliesAbove.map((r) => embeddedReply(r, true)),
      ])]));
    }
    const meta = h("div", { class: "topic-meta-data", role: "heading", "aria-level": "2" }, [
      posterNames(p),
      tabShown ? h("a", { class: "reply-to-tab", role: "button", tabindex: "0", "aria-controls": `embedded-posts__top--${p.post_number}`,
        "aria-expanded": hasAbove ? "true" : "false", title: "post.in_reply_to", onclick: () => toggleReplyAbove(p),
        onkeydown: (e) => { if (e.key === "Enter") toggleReplyAbove(p); } }, [
        h("span", { class: "d-icon", text: "↩" }), h("span", { text: p.reply_to_user.username })]) : null,
      h("div", { class: "post-infos" }, [h("div", { class: "post-info post-date" }, [
        h("a", { class: "post-date", href: getURL(`/t/${p.topic_slug}/${p.topic_id}/${p.post_number}`) }, [
          h("span", { class: "relative-date", "data-time": Date.parse(p.created_at), text: new Date(p.created_at).toISOString().slice(0, 10) })])])]),
    ]);
    const regularCls = ["post__regular", "regular"];
    if (!repliesShown) regularCls.push("post__contents", "contents");
    if (tabShown) regularCls.push("post__contents--avoid-tab", "avoid-tab");
    const regular = h("div", { class: regularCls.join(" ") }, [
      h("div", { class: "cooked", html: p.cooked }),
      h("section", { class: "post__menu-area post-menu-area clearfix" }, [postMenu(p, st, next)]),
    ]);
    if (repliesShown) {
      regular.append(h("section", { id: `embedded-posts__bottom--${p.post_number}`,
        class: "post__embedded-posts post__embedded-posts--bottom embedded-posts bottom" }, [
        ...st.repliesBelow.map((r) => embeddedReply(r, false)),
        dbutton("post__collapse-button post__collapse-button-up collapse-up", null, () => toggleRepliesBelow(p), { title: "collapse" }),
        st.repliesBelow.length < p.reply_count ? dbutton("post__load-more load-more-replies", "Load more replies", () => loadMoreReplies(p)) : null,
      ]));
    }
    rows.push(h("div", { class: "post__row row" }, [
      h("div", { class: "topic-avatar post__avatar" }, [avatar(p.username)]),
      h("div", { class: "post__body topic-body clearfix" }, [meta, regular, h("section", { class: "post__actions post-actions" })]),
    ]));
    if (p.post_number === 1 && topicState.topic.archetype === "private_message") rows.push(topicMap());
    const articleCls = ["boxed", "onscreen-post"];
    if (hasAbove) articleCls.push("post--has-replies-above", "replies-above");
    const article = h("article", { id: `post_${p.post_number}`, class: articleCls.join(" "), role: "region",
      "aria-label": `post #${p.post_number} by @${p.username}`, "data-post-id": p.id, "data-topic-id": p.topic_id,
      "data-user-id": p.user_id }, rows);
    const cls = ["topic-post", "clearfix"];
    if (!mobileView()) cls.push("post--sticky-avatar", "sticky-avatar");
    if (selectedPostNumber === p.post_number) cls.push("post--selected", "selected");
    if (p.user_id === topicState.topic.user_id) cls.push("post--topic-owner", "topic-owner");
    if (mine) cls.push("post--current-user", "current-user-post");
    cls.push(p.post_type === 2 ? "post--moderator moderator" : "post--regular regular");
    return h("div", { class: cls.join(" "), "data-post-number": p.post_number, role: "region",
      "aria-label": `post #${p.post_number} by @${p.username}`, "aria-busy": "false" }, [article]);
  }

  // components/post/menu.gjs with post_menu "read|like|share|flag|edit|bookmark|delete|admin|reply"
  // and post_menu_hidden_items "flag|bookmark|edit|delete|admin"; Edit is not hidden on one's own post.
  function postMenu(p, st, next) {
    const mine = p.yours;
    const items = [];   // [key, button, hidden]
    if (!mine) items.push(["like", dbutton("btn-flat post-action-menu__like toggle-like like", null, null, { title: "like this post" }), false]);
    items.push(["share", dbutton("btn-flat post-action-menu__copy-link", null, null, { title: "copy a link to this post" }), false]);
    if (!mine) items.push(["flag", dbutton("btn-flat post-action-menu__flag create-flag", null, null, { title: "flag" }), true]);
    if (p.can_edit) items.push(["edit", dbutton("btn-flat post-action-menu__edit edit", null, () => openEdit(p), { title: "edit this post" }), !mine]);
    items.push(["bookmark", dbutton("btn-flat post-action-menu__bookmark bookmark", null, null, { title: "bookmark this post" }), true]);
    if (p.can_delete) items.push(["delete", dbutton("btn-flat post-action-menu__delete delete", null, null, { title: "delete this post" }), true]);
    if (currentUser && currentUser.staff) items.push(["admin", dbutton("btn-flat show-post-admin-menu", null, null, { title: "post admin actions" }), true]);
    const buttons = [];
    let anyHidden = false;
    for (const [, b, hidden] of items) {
      if (hidden && !st.expanded) anyHidden = true;
      else buttons.push(b);
    }
    if (anyHidden) {
      buttons.push(dbutton("btn-flat show-more-actions post-action-menu__show-more", null, () => {
        st.expanded = true; rerenderItem(p.post_number);
      }, { title: "show more" }));
    }
    if (topicState.topic.details.can_create_post) {
      // menu/buttons/reply.gjs: the label and `create fade-out` only on desktop; on mobile an icon
      buttons.push(mobileView()
        ? dbutton("btn-flat post-action-menu__reply reply", null, () => openReply(p), { title: "begin composing a reply to this post" })
        : dbutton("btn-flat post-action-menu__reply reply create fade-out", "Reply", () => openReply(p), { title: "begin composing a reply to this post" }));
    }
    const extra = [];
    const suppressed = p.reply_count === 1 && next && next.reply_to_post_number === p.post_number && siteSettings.suppress_reply_directly_below;
    if (p.reply_count && !suppressed) {
      extra.push(dbutton("show-replies", `${p.reply_count} ${p.reply_count === 1 ? "Reply" : "Replies"}`, () => toggleRepliesBelow(p), {
        "aria-controls": `embedded-posts__bottom--${p.post_number}`, "aria-expanded": st.repliesBelow.length ? "true" : "false",
        "aria-pressed": st.repliesBelow.length ? "true" : "false" }));
    }
    return h("nav", { class: `post-controls ${anyHidden ? "collapsed" : "expanded"}` }, [...extra, h("div", { class: "actions" }, buttons)]);
  }

  // components/topic-map (PM map) inside article #1, after the rows
  function topicMap() {
    const t = topicState.topic;
    const d = t.details;
    const users = (d.allowed_users || []).map((u) => h("div", { class: "user" }, [
      avatar(u.username, "user-link"), h("span", { class: "username", text: u.username }),
      d.can_remove_allowed_users && u.username !== currentUser.username
        ? dbutton("btn-flat remove-invited", null, () => removeParticipant(u.username), { title: "remove" }) : null]));
    const groups = (d.allowed_groups || []).map((g) => h("div", { class: "user group" }, [
      h("a", { class: "group-link", href: getURL(`/g/${g.name}`), text: g.name })]));
    const controls = [];
    if (d.can_invite_to) {
      controls.push(dbutton("btn-default add-participant-btn", "Invite", () => showInviteForm()));
      controls.push(dbutton("btn-default add-remove-participant-btn", "Edit", () => showInviteForm()));
    }
    return h("div", { class: "post__topic-map topic-map --op" }, [h("section", { class: "topic-map__private-message-map private-message-map" }, [
      h("div", { class: "participants" }, [...users, ...groups]),
      h("div", { class: "controls" }, controls),
      h("div", { class: "invite-form", hidden: true }),
    ])]);
  }

  function showInviteForm() {
    const box = document.querySelector("#post_1 .private-message-map .invite-form");
    if (!box) return;
    box.hidden = false;
    box.textContent = "";
    const input = h("input", { class: "add-participant-input", type: "text", placeholder: "username" });
    box.append(input, dbutton("btn-primary invite-participant", "Add", async () => {
      const r = await ajax("POST", `/t/${topicState.topic.id}/invite.json`, { user: input.value.trim() });
      if (!r.ok) return dialog(errorText(r));
      await refreshTopic(true);
    }));
    input.focus();
  }

  async function removeParticipant(username) {
    const r = await ajax("PUT", `/t/${topicState.topic.id}/remove-allowed-user.json`, { username });
    if (!r.ok) return dialog(errorText(r));
    await refreshTopic(true);
  }

  function renderItem(p) {
    if (p.post_type === 3) return smallAction(p);
    const c = tracker.cloaked.get(p.post_number);
    return c !== undefined ? cloakedItem(p, c) : postItem(p);
  }

  function replaceItem(n, el) {
    const p = topicState.posts.get(Number(n));
    const old = p && p.post_type === 3 ? document.getElementById(`post_${n}`) : itemFor(n);
    if (!old) return false;
    tracker.unobserve(old);
    old.replaceWith(el);
    tracker.observe(el);
    return true;
  }

  // A re-render of the post's component: the subtree is created anew.
  function rerenderItem(n) {
    const p = topicState && topicState.posts.get(Number(n));
    if (!p) return false;
    return replaceItem(p.post_number, renderItem(p));
  }

  function appendPosts(posts) {
    const stream = document.querySelector(".post-stream");
    if (!stream || !topicState) return;
    const fresh = [];
    for (const p of posts) {
      if (topicState.loaded.has(p.id)) continue;
      topicState.loaded.add(p.id);
      topicState.posts.set(p.post_number, p);
      topicState.order.push(p.post_number);
      fresh.push(p);
    }
    // the post before the new ones may now show (or hide) its reply button / reply-to tab
    const before = fresh.length ? prevPost(fresh[0].post_number) : null;
    for (const p of fresh) {
      const el = renderItem(p);
      stream.append(el);
      tracker.observe(el);
    }
    if (before && before.post_type !== 3 && !tracker.cloaked.has(before.post_number)) rerenderItem(before.post_number);
  }

  function maybeLoadMore() {
    if (!topicState) return;
    const missing = topicState.stream.filter((id) => !topicState.loaded.has(id));
    const old = document.querySelector(".post-stream-load-more");
    if (old) old.remove();
    if (!missing.length) return;
    const sentinel = h("div", { class: "post-stream-load-more load-more" }, [h("div", { class: "spinner small" })]);
    document.querySelector(".post-stream").after(sentinel);
    // LoadMore: the next chunk comes when the bottom of the stream is in view.
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { io.disconnect(); loadMore(); }
    });
    io.observe(sentinel);
  }

  async function loadMore() {
    const st = topicState;
    if (!st || st.loading) return;
    const next = st.stream.filter((id) => !st.loaded.has(id)).slice(0, 20);
    if (!next.length) return;
    st.loading = true;
    const qs = next.map((id) => `post_ids[]=${id}`).join("&");
    const res = await ajax("GET", `/t/${st.topic.id}/posts.json?${qs}`);
    st.loading = false;
    if (st !== topicState || !res.ok) return;
    const byId = new Map(res.json.post_stream.posts.map((p) => [p.id, p]));
    appendPosts(next.map((id) => byId.get(id)).filter(Boolean));
    maybeLoadMore();
    scheduleTimings();
  }

  async function refreshTopic(all) {
    if (!topicState) return;
    const st = topicState;
    const res = await ajax("GET", `/t/${st.topic.id}.json`);
    if (!res.ok || st !== topicState) return;
    st.stream = res.json.post_stream.stream.slice();
    st.topic = { ...st.topic, ...res.json, post_stream: st.topic.post_stream };
    // re-render revised posts in place (Discourse re-renders .cooked on "revised")
    for (const p of res.json.post_stream.posts) {
      const known = st.posts.get(p.post_number);
      if (known && known.id === p.id && (known.version !== p.version || known.reply_count !== p.reply_count || all)) {
        st.posts.set(p.post_number, p);
        if (!tracker.cloaked.has(p.post_number)) rerenderItem(p.post_number);
      }
    }
    appendPosts(res.json.post_stream.posts);
    maybeLoadMore();
  }

  // ------------------------------------------------------------------ embedded replies
  async function toggleRepliesBelow(p) {
    const st = uiFor(p.post_number);
    if (st.repliesBelow.length) { st.repliesBelow = []; rerenderItem(p.post_number); return; }
    await loadMoreReplies(p);
  }

  async function loadMoreReplies(p) {
    const st = uiFor(p.post_number);
    const after = st.repliesBelow.length ? st.repliesBelow[st.repliesBelow.length - 1].post_number : 1;
    const res = await ajax("GET", `/posts/${p.id}/replies.json?after=${after}`);
    if (!res.ok || !topicState) return;
    st.repliesBelow = st.repliesBelow.concat(res.json);
    rerenderItem(p.post_number);
    emit("standin:replies-shown", { post_number: p.post_number, where: "below" });
  }

  async function toggleReplyAbove(p) {
    const st = uiFor(p.post_number);
    if (st.repliesAbove && st.repliesAbove.length) { st.repliesAbove = null; rerenderItem(p.post_number); return; }
    const res = await ajax("GET", `/posts/${p.id}/reply-history.json`);
    if (!res.ok || !topicState) return;
    st.repliesAbove = res.json;
    rerenderItem(p.post_number);
    emit("standin:replies-shown", { post_number: p.post_number, where: "above" });
  }

  // ------------------------------------------------------------------ cloaking (modifiers/post-stream-viewport-tracker.js)
  // Posts more than one viewport height (SLACK_FACTOR 1) above or below the posts in view are
  // cloaked once their height is known; they come back as a freshly rendered subtree.
  const tracker = {
    io: null,
    heights: new Map(),   // post_number -> measured height
    inside: new Map(),    // post_number -> inside the cloaking area
    cloaked: new Map(),   // post_number -> placeholder height
    prevent: new Set(),
    held: new Set(),      // cloaked by a test hook: the tracker leaves them cloaked until the hook uncloaks
    timer: null,
    start() {
      this.stop();
      const margin = Math.ceil(window.innerHeight * 1);
      this.io = new IntersectionObserver((entries) => this.onEntries(entries), { root: document, rootMargin: `${margin}px 0px`, threshold: [0, 1] });
      document.querySelectorAll(".post-stream > [data-post-number]").forEach((el) => this.io.observe(el));
      window.addEventListener("resize", this.onResize);
    },
    stop() {
      if (this.io) this.io.disconnect();
      this.io = null;
      clearTimeout(this.timer);
      window.removeEventListener("resize", this.onResize);
      this.inside.clear();
    },
    onResize: null,
    observe(el) { if (this.io && el && el.hasAttribute && el.hasAttribute("data-post-number")) this.io.observe(el); },
    unobserve(el) { if (this.io && el) this.io.unobserve(el); },
    onEntries(entries) {
      for (const e of entries) {
        const n = Number(e.target.getAttribute("data-post-number"));
        this.inside.set(n, e.isIntersecting);
        if (!e.target.classList.contains("post-stream--cloaked")) this.heights.set(n, e.target.offsetHeight);
      }
      clearTimeout(this.timer);
      this.timer = setTimeout(() => requestAnimationFrame(() => this.apply()), 10);   // SCROLL_BATCH_INTERVAL_MS
    },
    apply() {
      if (!this.io || !topicState) return;
      const insideNums = [...this.inside.entries()].filter(([, v]) => v).map(([k]) => k);
      if (!insideNums.length) return;
      const above = Math.min(...insideNums);
      const below = Math.max(...insideNums);
      for (const n of topicState.order) {
        const p = topicState.posts.get(n);
        if (!p || p.post_type === 3 || this.held.has(n)) continue;
        const should = this.heights.has(n) && (n < above || n > below) && !this.prevent.has(n);
        if (should && !this.cloaked.has(n)) cloak(n);
        else if (!should && this.cloaked.has(n)) uncloak(n);
      }
    },
  };
  tracker.onResize = (() => { let t = null; return () => { clearTimeout(t); t = setTimeout(() => { if (tracker.io) tracker.start(); }, 100); }; })();

  function cloak(n) {
    n = Number(n);
    const p = topicState && topicState.posts.get(n);
    const el = itemFor(n);
    if (!p || !el || p.post_type === 3 || tracker.cloaked.has(n)) return false;
    const height = el.offsetHeight || tracker.heights.get(n) || 100;
    tracker.heights.set(n, height);
    tracker.cloaked.set(n, height);
    return replaceItem(n, cloakedItem(p, height));
  }

  function uncloak(n) {
    n = Number(n);
    const p = topicState && topicState.posts.get(n);
    if (!p || !tracker.cloaked.has(n)) return false;
    tracker.cloaked.delete(n);
    return replaceItem(n, postItem(p));
  }

  // Like DecoratedHtml after a "revised" message: .cooked is replaced by a fresh element.
  function rerenderCooked(n) {
    const el = itemFor(n);
    const p = topicState && topicState.posts.get(Number(n));
    if (!el || !p) return false;
    const old = el.querySelector("article > .post__row .post__regular > .cooked");
    if (!old) return false;
    old.replaceWith(h("div", { class: "cooked", html: p.cooked }));
    return true;
  }

  // ------------------------------------------------------------------ read tracking (screen-track → /topics/timings)
  let timingsTimer = null;
  function scheduleTimings() {
    clearTimeout(timingsTimer);
    timingsTimer = setTimeout(sendTimings, 1000);
  }
  window.addEventListener("scroll", () => { if (topicState) scheduleTimings(); }, { passive: true });
  async function sendTimings() {
    const st = topicState;
    if (!st || !currentUser) return;
    const seen = [];
    for (const el of document.querySelectorAll(".post-stream > .topic-post[data-post-number]")) {
      const r = el.getBoundingClientRect();
      const n = Number(el.getAttribute("data-post-number"));
      if (r.bottom > 0 && r.top < window.innerHeight && !st.reported.has(n)) seen.push(n);
    }
    if (!seen.length) return;
    seen.forEach((n) => st.reported.add(n));
    const data = { topic_id: st.topic.id, topic_time: 1000 * seen.length };
    for (const n of seen) data[`timings[${n}]`] = 1000;
    await ajax("POST", "/topics/timings", data);
  }

  // ------------------------------------------------------------------ quote from selection (post-text-selection-toolbar)
  let quoteState = null;   // {post, text}
  function selectedPostText() {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || !sel.rangeCount || !topicState) return null;
    const text = sel.toString();
    if (!text.trim()) return null;
    let node = sel.getRangeAt(0).commonAncestorContainer;
    if (node.nodeType !== 1) node = node.parentElement;
    if (!node || !node.closest(".cooked") || node.closest(".small-action") || !node.closest(".post-stream")) return null;
    const holder = node.closest("[data-post-id]");
    const id = holder && Number(holder.getAttribute("data-post-id"));
    const post = findPostById(id);
    return post ? { post, text, range: sel.getRangeAt(0) } : null;
  }

  function findPostById(id) {
    if (!topicState) return null;
    for (const p of topicState.posts.values()) if (p.id === id) return p;
    for (const st of topicState.ui.values()) {
      for (const r of [...st.repliesBelow, ...(st.repliesAbove || [])]) if (r.id === id) return r;
    }
    return null;
  }

  function canQuote() {
    return topicState && (topicState.topic.details.can_create_post || topicState.topic.details.can_reply_as_new_topic) &&
      currentUser && currentUser.user_option && currentUser.user_option.enable_quoting;
  }

  function showQuoteButton() {
    const found = canQuote() ? selectedPostText() : null;
    if (!found) return hideQuoteButton();
    quoteState = found;
    let tb = document.querySelector(".quote-button");
    if (!tb) {
      tb = h("div", { class: "quote-button visible" }, [h("div", { class: "buttons" }, [
        dbutton("btn-flat insert-quote", "Quote", () => insertQuote(), { title: "Quote" })])]);
      tb.addEventListener("mousedown", (e) => e.preventDefault());   // keep the selection
      document.body.append(tb);
    }
    const r = found.range.getBoundingClientRect();
    tb.style.position = "absolute";
    tb.style.left = `${Math.round(r.left + window.scrollX)}px`;
    tb.style.top = `${Math.round(r.top + window.scrollY - 44)}px`;
  }

  function hideQuoteButton() {
    quoteState = null;
    const tb = document.querySelector(".quote-button");
    if (tb) tb.remove();
  }

  let selTimer = null;
  document.addEventListener("selectionchange", () => { clearTimeout(selTimer); selTimer = setTimeout(showQuoteButton, 50); });
  document.addEventListener("mouseup", () => setTimeout(showQuoteButton, 0));

  // lib/quote.js buildQuote
  function buildQuote(post, text) {
    return `[quote="${post.username}, post:${post.post_number}, topic:${post.topic_id}"]\n${text.trim()}\n[/quote]\n\n`;
  }

  function insertQuote() {
    const q = quoteState || selectedPostText();
    if (!q) return;
    const quote = buildQuote(q.post, q.text);
    hideQuoteButton();
    window.getSelection().removeAllRanges();
    if (composer && composer.topicId === q.post.topic_id && composer.action === "reply") {
      editor.append(quote);
      editor.focus();
    } else {
      openReply(q.post, quote);
    }
  }

  // ------------------------------------------------------------------ keyboard shortcuts (lib/keyboard-shortcuts.js)
  function setSelected(n) {
    const before = selectedPostNumber;
    selectedPostNumber = n;
    for (const m of [before, n]) if (m && !tracker.cloaked.has(m)) rerenderItem(m);
    const el = itemFor(n);
    if (el) el.scrollIntoView({ block: "nearest" });
  }

  function moveSelection(delta) {
    if (!topicState) return;
    const nums = topicState.order.filter((n) => topicState.posts.get(n).post_type !== 3);
    if (!nums.length) return;
    const i = nums.indexOf(selectedPostNumber);
    setSelected(nums[i < 0 ? 0 : Math.max(0, Math.min(nums.length - 1, i + delta))]);
  }

  document.addEventListener("keydown", (e) => {
    if (!currentUser || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const t = e.target;
    if (t && t.closest && (t.closest("input, textarea, select, [contenteditable='true']") || t.isContentEditable)) return;
    const selected = topicState && selectedPostNumber ? topicState.posts.get(selectedPostNumber) : null;
    const key = e.key;
    if (key === "j" || key === "k") { moveSelection(key === "j" ? 1 : -1); e.preventDefault(); return; }
    if (!topicState) return;
    if (key === "R" && e.shiftKey) { openReply(); e.preventDefault(); return; }
    if (key === "r") { if (selected) openReply(selected); e.preventDefault(); return; }
    if (key === "q") {
      e.preventDefault();
      if (selectedPostText()) { insertQuote(); return; }
      if (selected) {
        openReply(selected);
        setTimeout(() => { const b = replyControl.querySelector(".d-editor .quote"); if (b) b.click(); }, 500);
      }
      return;
    }
    if (key === "e") { if (selected && selected.can_edit) openEdit(selected); e.preventDefault(); }
  });

  // ------------------------------------------------------------------ composer
  // composer = {action, draftKey, topicId, replyTo (post), postId, postNumber, originalText,
  //             draftSequence, openedAt, typingMs, lastKey, timer, saving, lastDraftSave,
  //             disableDrafts, forceSave}
  let composer = null;
  const DEBOUNCE = standinCfg.draft_autosave_ms || 2000;
  const IMMEDIATE = standinCfg.draft_immediate_ms || 15000;

  // The editing surface: textarea.d-editor-input (markdown) or the ProseMirror view
  // div.d-editor-input.ProseMirror (rich). Either way the composer's reply is text.
  const editor = {
    el() { return replyControl.querySelector(".d-editor-input"); },
    rich() { const e = this.el(); return !!(e && e.classList.contains("ProseMirror")); },
    get() {
      const e = this.el();
      if (!e) return "";
      return this.rich() ? richText(e) : e.value;
    },
    set(text) {
      const e = this.el();
      if (!e) return;
      if (this.rich()) fillRich(e, text); else e.value = text;
    },
    append(text) {
      const cur = this.get();
      this.set(cur ? `${cur.replace(/\n*$/, "")}\n\n${text}` : text);
      onComposerChange();
    },
    focus() {
      const e = this.el();
      if (!e) return;
      e.focus();
      if (this.rich()) {
        const r = document.createRange(); r.selectNodeContents(e); r.collapse(false);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
      }
    },
  };

  // ProseMirror's markdown serialisation, for plain text: paragraphs separated by a blank line,
  // hard breaks as newlines.
  function richText(root) {
    const blocks = [];
    let inline = "";
    const flush = () => { blocks.push(inline); inline = ""; };
    const walk = (node, top) => {
      for (const c of node.childNodes) {
        if (c.nodeType === 3) inline += c.nodeValue.replace(/\u00a0/g, " ");
        else if (c.nodeName === "BR") { if (c.nextSibling || !c.parentNode || c.parentNode === root) inline += "\n"; }
        else if (/^(P|DIV|H[1-6]|LI|BLOCKQUOTE|PRE)$/.test(c.nodeName)) {
          if (top) { if (inline) flush(); walk(c, false); flush(); } else { if (inline && !inline.endsWith("\n")) inline += "\n"; walk(c, false); }
        } else walk(c, false);
      }
    };
    walk(root, true);
    if (inline) flush();
    return blocks.map((b) => b.replace(/\n$/, "")).join("\n\n").replace(/\n{3,}/g, "\n\n").replace(/^\n+|\n+$/g, "");
  }

  function fillRich(el, text) {
    el.textContent = "";
    const paras = (text || "").split(/\n{2,}/);
    for (const para of paras) {
      const p = document.createElement("p");
      const lines = para.split("\n");
      lines.forEach((line, i) => { if (i) p.append(document.createElement("br")); if (line) p.append(document.createTextNode(line)); });
      if (!para) p.append(document.createElement("br"));
      el.append(p);
    }
  }

  function useRichEditor() {
    return !!siteSettings.rich_editor && currentUser && currentUser.user_option && currentUser.user_option.composition_mode === 1;
  }

  function buildEditor(rich) {
    const wrapper = replyControl.querySelector(".d-editor-textarea-wrapper");
    const old = wrapper.querySelector(".d-editor-input, .ProseMirror-container");
    const text = old ? editor.get() : "";
    if (old) (old.closest(".ProseMirror-container") || old).remove();
    let input;
    if (rich) {
      input = h("div", { class: "d-editor-input ProseMirror", contenteditable: "true", role: "textbox", "aria-multiline": "true", translate: "no" });
      wrapper.append(h("div", { class: "ProseMirror-container" }, [input]));
      fillRich(input, text);
    } else {
      input = h("textarea", { class: "d-editor-input", placeholder: "Type here. Use Markdown, BBCode, or HTML to format.", "aria-label": "Type here" });
      input.value = text;
      wrapper.append(input);
    }
    input.addEventListener("input", onComposerChange);
    input.addEventListener("focus", () => wrapper.classList.add("in-focus"));
    input.addEventListener("blur", () => wrapper.classList.remove("in-focus"));
    const toggle = replyControl.querySelector(".composer-toggle-switch");
    if (toggle) {
      toggle.classList.toggle("--rte", rich);
      toggle.classList.toggle("--markdown", !rich);
      toggle.setAttribute("data-rich-editor", rich ? "true" : "false");
      toggle.setAttribute("aria-checked", rich ? "true" : "false");
    }
  }

  function buildComposer() {
    replyControl.textContent = "";
    const barButtons = [
      dbutton("btn-flat bold", null, () => wrapSelection("**"), { title: "Strong" }),
      dbutton("btn-flat italic", null, () => wrapSelection("*"), { title: "Emphasis" }),
      dbutton("btn-flat quote", null, () => quoteWholePost(), { title: "Quote whole post" }),
    ];
    if (siteSettings.rich_editor) {
      barButtons.unshift(h("button", { class: "composer-toggle-switch", type: "button", role: "switch", title: "Toggle Markdown / rich text", onclick: () => {
        buildEditor(!editor.rich());
        editor.focus();
        ajax("PUT", `/u/${encodeURIComponent(currentUser.username)}.json`, { composition_mode: editor.rich() ? 1 : 0 });
        currentUser.user_option.composition_mode = editor.rich() ? 1 : 0;
      } }, [h("span", { class: "composer-toggle-switch__slider" })]));
    }
    replyControl.append(h("div", { class: "grippie" }), h("div", { class: "reply-area" }, [
      h("div", { class: "reply-to" }, [
        h("div", { class: "reply-details" }, [h("div", { class: "composer-action-title" }, [h("span", { class: "action-title" })])]),
        h("div", { class: "composer-controls" }, [dbutton("btn-flat toggle-minimize", null, () => minimizeComposer(), { title: "minimize" })]),
        h("div", { class: "composer-toggles" }),
      ]),
      h("div", { class: "composer-fields" }, [
        h("div", { class: "title-and-category" }, [
          h("div", { class: "user-selector" }, [h("input", { id: "private-message-users", class: "select-kit multi-select user-chooser", type: "text",
            placeholder: "Add a user or group", autocomplete: "off", name: "private-message-users" })]),
          h("div", { class: "title-input" }, [h("input", { id: "reply-title", type: "text", placeholder: "Type title, or paste a link here", maxlength: 255 })]),
        ]),
      ]),
      h("div", { class: "d-editor" }, [h("div", { class: `d-editor-container${siteSettings.rich_editor ? " d-editor-container--rich-editor-enabled" : ""}` }, [
        h("div", { class: "d-editor-textarea-column" }, [h("div", { class: "d-editor-textarea-wrapper" }, [
          h("div", { class: "d-editor-button-bar", role: "toolbar" }, barButtons),
        ])]),
        h("div", { class: "d-editor-preview-wrapper" }, [h("div", { class: "d-editor-preview" })]),
      ])]),
      h("div", { class: "popup-tip bad", hidden: true, role: "alert" }),
      h("div", { class: "submit-panel" }, [h("div", { class: "save-or-cancel" }, [
        dbutton("btn-primary create", "Reply", submitComposer),
        dbutton("btn-flat cancel", "Cancel", closeComposer),
        h("span", { class: "saving-draft", hidden: true, text: "Saving draft…" }),
        h("span", { class: "draft-saved", hidden: true, text: "Draft saved" }),
      ])]),
    ]));
    for (const el of [replyControl.querySelector("#reply-title"), replyControl.querySelector("#private-message-users")]) {
      el.addEventListener("input", onComposerChange);
    }
    buildEditor(useRichEditor());
    updateComposerToolbarToggle();
  }

  // composer-toggles.gjs: on mobile a `.toggle-toolbar` button shows or hides the editor's toolbar
  // (mobile/compose.scss hides `.d-editor-button-bar` unless `#reply-control.toolbar-visible`).
  function updateComposerToolbarToggle() {
    const holder = replyControl.querySelector(".composer-toggles");
    if (!holder) return;
    holder.textContent = "";
    if (mobileView()) {
      holder.append(dbutton("btn-flat toggle-toolbar", null, () => replyControl.classList.toggle("toolbar-visible"),
        { title: "toggle the toolbar" }));
    }
  }

  function wrapSelection(mark) {
    const e = editor.el();
    if (!e) return;
    if (editor.rich()) {
      document.execCommand("insertText", false, `${mark}${window.getSelection().toString() || "strong text"}${mark}`);
    } else {
      e.setRangeText(`${mark}${e.value.slice(e.selectionStart, e.selectionEnd) || "strong text"}${mark}`);
    }
    onComposerChange();
  }

  // The toolbar's "quote" button: the whole post being replied to.
  async function quoteWholePost() {
    if (!composer || !composer.replyTo) return;
    const p = composer.replyTo;
    const res = await ajax("GET", `/posts/${p.id}.json`);
    if (!res.ok || !composer) return;
    editor.append(buildQuote(p, res.json.raw));
  }

  function minimizeComposer() {
    if (!composer) return;
    saveDraft();
    replyControl.className = `draft ${composer.cls}`;
  }

  async function openComposer(opts) {
    if (!currentUser) return;
    if (composer) await closeComposer(true);
    buildComposer();
    composer = { ...opts, openedAt: Date.now(), typingMs: 0, lastKey: 0, timer: null, saving: false,
      lastDraftSave: 0, disableDrafts: false, forceSave: false };
    const isPM = opts.action === "privateMessage";
    composer.cls = isPM ? "private-message" : opts.action === "edit" ? "edit" : "reply";
    replyControl.className = `open ${composer.cls}`;
    document.documentElement.classList.add("composer-open");
    replyControl.querySelector(".action-title").textContent =
      isPM ? "New message" : opts.action === "edit" ? `Edit post #${opts.postNumber}` : opts.replyTo ? `Reply to post #${opts.replyTo.post_number}` : "Reply";
    replyControl.querySelector(".user-selector").hidden = !isPM;
    replyControl.querySelector(".title-input").hidden = !(isPM || (opts.action === "edit" && opts.postNumber === 1));
    replyControl.querySelector("#private-message-users").value = opts.recipients || "";
    replyControl.querySelector("#reply-title").value = opts.title || "";
    replyControl.querySelector(".save-or-cancel .create .d-button-label").textContent =
      isPM ? "Send message" : opts.action === "edit" ? "Save edit" : "Reply";
    editor.set(opts.reply || "");
    updatePreview();
    // Composer#open: without a known draft sequence, ask the server (and resume its draft).
    if (composer.draftSequence === undefined) {
      const res = await ajax("GET", `/drafts/${encodeURIComponent(opts.draftKey)}.json`);
      if (res.ok && composer && composer.draftKey === opts.draftKey) {
        composer.draftSequence = res.json.draft_sequence || 0;
        if (res.json.draft && !opts.reply && opts.action !== "edit") restoreDraft(res.json.draft);
      }
    } else if (opts.draft && !opts.reply && opts.action !== "edit") {
      restoreDraft(opts.draft);
    }
    if (!composer) return;
    editor.focus();
    emit("standin:composer-open", { action: opts.action, rich: editor.rich() });
  }

  function restoreDraft(raw) {
    try {
      const d = JSON.parse(raw);
      if (d.reply === d.original_text) return;      // an untouched edit draft is ignored
      editor.set(d.reply || "");
      if (d.title) replyControl.querySelector("#reply-title").value = d.title;
      if (d.recipients) replyControl.querySelector("#private-message-users").value = d.recipients;
      updatePreview();
    } catch (e) { /* a malformed draft is ignored */ }
  }

  function openReply(replyTo, quote) {
    if (!topicState) return;
    const t = topicState.topic;
    if (composer && composer.action === "reply" && composer.topicId === t.id) {
      composer.replyTo = replyTo || composer.replyTo;
      if (quote) editor.append(quote);
      editor.focus();
      return;
    }
    openComposer({ action: "reply", draftKey: t.draft_key || `topic_${t.id}`, draftSequence: t.draft_sequence,
      draft: t.draft, topicId: t.id, replyTo: replyTo || null, reply: quote || "" });
  }

  async function openEdit(p) {
    const res = await ajax("GET", `/posts/${p.id}.json`);
    if (!res.ok) return;
    openComposer({ action: "edit", draftKey: `topic_${p.topic_id}`, topicId: p.topic_id, postId: p.id,
      postNumber: p.post_number, reply: res.json.raw, originalText: res.json.raw,
      title: p.post_number === 1 ? topicState.topic.title : "" });
  }

  async function closeComposer(quiet) {
    if (composer && composer.timer) clearTimeout(composer.timer);   // cancelComposer cancels the debounce
    composer = null;
    replyControl.className = "closed";
    replyControl.textContent = "";
    document.documentElement.classList.remove("composer-open");
    if (quiet !== true) emit("standin:composer-closed", {});
  }

  function updatePreview() {
    const prev = replyControl.querySelector(".d-editor-preview");
    if (!prev) return;
    prev.textContent = "";
    for (const para of editor.get().split(/\n{2,}/)) if (para) prev.append(h("p", { text: para }));
  }

  // services/composer.js: save 2 s after the last change, at once if the last save is older than 15 s
  function onComposerChange() {
    if (!composer) return;
    const t = Date.now();
    if (composer.lastKey && t - composer.lastKey < 5000) composer.typingMs += t - composer.lastKey;
    composer.lastKey = t;
    updatePreview();
    if (composer.disableDrafts) return;
    if (!composer.lastDraftSave) composer.lastDraftSave = t;     // the first change starts the clock
    clearTimeout(composer.timer);
    if (t - composer.lastDraftSave > IMMEDIATE) saveDraft();
    else composer.timer = setTimeout(saveDraft, DEBOUNCE);
  }

  function titleEditable(c) { return c.action === "privateMessage" || (c.action === "edit" && c.postNumber === 1); }

  // models/composer.js canSaveDraft
  function canSaveDraft(c) {
    if (c.saving || c.disableDrafts) return false;
    const reply = editor.get();
    if (titleEditable(c)) {
      const title = replyControl.querySelector("#reply-title").value;
      if (!title.trim() && !reply.trim()) return false;
      const minTitle = siteSettings.min_personal_message_title_length || 2;
      const minPost = siteSettings.min_personal_message_post_length || 10;
      if (title.trim().length < minTitle && replyLength(reply) < minPost) return false;
      return true;
    }
    return !!reply.trim();
  }

  // Composer#replyLength: no HTML comments, no [quote] blocks, collapsed whitespace
  function replyLength(text) {
    return text.replace(/<!--[\s\S]*?-->/g, "").replace(/\[quote[^\]]*\][\s\S]*?\[\/quote\]/gi, "").replace(/\s+/g, " ").trim().length;
  }

  // _draft_serializer: undefined values are left out
  function draftData(c) {
    const isPM = c.action === "privateMessage";
    const data = {
      reply: editor.get(),
      action: c.action,
      title: titleEditable(c) ? replyControl.querySelector("#reply-title").value : undefined,
      categoryId: isPM ? undefined : (topicState && topicState.topic.category_id),
      archetypeId: isPM ? "private_message" : "regular",
      whisper: false,
      metaData: null,
      composerTime: Date.now() - c.openedAt,
      typingTime: c.typingMs,
      postId: c.action === "edit" ? c.postId : (c.replyTo ? c.replyTo.id : undefined),
      recipients: isPM ? replyControl.querySelector("#private-message-users").value : undefined,
      original_text: c.action === "edit" ? c.originalText : undefined,
    };
    return JSON.parse(JSON.stringify(data));
  }

  async function saveDraft() {
    const c = composer;
    if (!c) return;
    clearTimeout(c.timer);
    c.timer = null;
    if (c.saving) { c.timer = setTimeout(saveDraft, DEBOUNCE); return; }
    if (!canSaveDraft(c)) return;
    c.saving = true;
    const saving = replyControl.querySelector(".saving-draft");
    if (saving) saving.hidden = false;
    const sequence = c.draftSequence || 0;
    c.draftSequence = sequence + 1;             // Composer#saveDraft increments before the request
    const body = { draft_key: c.draftKey, sequence, data: JSON.stringify(draftData(c)), owner: clientId };
    if (c.forceSave) body.force_save = true;
    const res = await ajax("POST", "/drafts.json", body);
    c.saving = false;
    if (saving && composer === c) saving.hidden = true;
    if (res.ok) {
      c.draftSequence = res.json.draft_sequence;
      c.lastDraftSave = Date.now();
      c.forceSave = false;
      const s = replyControl.querySelector(".draft-saved");
      if (s && composer === c) s.hidden = false;
      emit("standin:draft-saved", { key: c.draftKey, sequence: c.draftSequence });
    } else if (res.status === 409 && res.json && Array.isArray(res.json.errors)) {
      const desc = res.json.extras && res.json.extras.description;
      if (desc) {
        dialog(`${res.json.errors[0]}\n${desc}`, [
          { label: "Reload", cls: "btn-primary", action: () => window.location.reload() },
          { label: "Ignore", cls: "btn-default", action: () => { c.forceSave = true; } },
        ]);
      }
      emit("standin:draft-conflict", { key: c.draftKey });
    }
  }

  function clientValidation(c) {
    const reply = editor.get();
    const isPM = c.action === "privateMessage";
    if (isPM) {
      if (!replyControl.querySelector("#private-message-users").value.trim()) return "You must choose a valid user.";
      const minTitle = siteSettings.min_personal_message_title_length || 2;
      if (replyControl.querySelector("#reply-title").value.trim().length < minTitle) return `Title must be at least ${minTitle} characters`;
    }
    const minPost = siteSettings.min_personal_message_post_length || 10;
    if (replyLength(reply) < minPost) return `Post must be at least ${minPost} characters`;
    return null;
  }

  async function submitComposer() {
    const c = composer;
    if (!c) return;
    clearTimeout(c.timer);
    c.timer = null;
    const tip = replyControl.querySelector(".popup-tip");
    tip.hidden = true;
    const problem = clientValidation(c);
    if (problem) {
      tip.hidden = false;
      tip.textContent = problem;
      emit("standin:composer-error", { status: 0, message: problem });
      return;
    }
    c.disableDrafts = true;                     // no draft saves once Submit is pressed
    const raw = editor.get();
    let res;
    if (c.action === "edit") {
      const data = { post: { raw, edit_reason: "", original_text: c.originalText, topic_id: c.topicId } };
      const title = replyControl.querySelector("#reply-title").value;
      if (c.postNumber === 1 && title) data.title = title;
      res = await ajax("PUT", `/posts/${c.postId}.json`, data);
    } else {
      // models/composer.js _create_serializer, posted as JSON with nested_post (adapters/post.js)
      const data = { raw, unlist_topic: false, is_warning: false, whisper: false, shared_draft: false,
        typing_duration_msecs: c.typingMs, composer_open_duration_msecs: Date.now() - c.openedAt,
        composer_version: editor.rich() ? 2 : 1, draft_key: c.draftKey, nested_post: true, image_sizes: {} };
      if (c.action === "privateMessage") {
        data.archetype = "private_message";
        data.title = replyControl.querySelector("#reply-title").value;
        data.target_recipients = replyControl.querySelector("#private-message-users").value;
      } else {
        data.topic_id = c.topicId;
        data.archetype = "regular";
        if (c.replyTo) data.reply_to_post_number = c.replyTo.post_number;
      }
      res = await ajax("POST", "/posts.json", data, { json: true });
    }
    if (composer !== c) return;
    if (!res.ok) {
      c.disableDrafts = false;                  // drafts come back after a failed submit
      dialog(errorText(res));
      emit("standin:composer-error", { status: res.status, message: errorText(res) });
      return;
    }
    await closeComposer(true);
    const post = res.json && (res.json.post || res.json);
    if (c.action === "privateMessage") {
      await navigate(`/t/${post.topic_slug}/${post.topic_id}`);
    } else if (topicState && topicState.topic.id === c.topicId) {
      if (c.action !== "edit" && typeof post.draft_sequence === "number") {
        topicState.topic.draft_sequence = post.draft_sequence;
        topicState.topic.draft = null;
      }
      await refreshTopic(c.action !== "edit");
    }
    emit("standin:posted", { action: c.action, post_id: post && post.id });
  }

  // ------------------------------------------------------------------ test hooks (page world)
  window.__standin = {
    get routeCount() { return routeCount; },
    get base() { return BASE; },
    navigate: (url) => navigate(url),
    // A hooked cloak holds: otherwise the tracker would uncloak a post in view before a test saw it cloaked.
    cloak: (n) => { tracker.held.add(Number(n)); return cloak(n) || tracker.cloaked.has(Number(n)); },
    uncloak: (n) => { tracker.held.delete(Number(n)); return uncloak(n); },
    setAutoCloak: (on) => (on ? tracker.start() : tracker.stop()),
    preventCloaking: (n, on) => { if (on === false) tracker.prevent.delete(Number(n)); else tracker.prevent.add(Number(n)); },
    isCloaked: (n) => tracker.cloaked.has(Number(n)),
    rerenderCooked: (n) => rerenderCooked(n),
    rerenderPost: (n) => rerenderItem(n),
    refreshTopic: () => refreshTopic(),
    loadMore: () => loadMore(),
    openReply: (n) => openReply(n && topicState ? topicState.posts.get(Number(n)) : undefined),
    selectPost: (n) => setSelected(Number(n)),
    composerReply: () => (composer ? editor.get() : null),
    setComposerReply: (text) => { if (composer) { editor.set(text); onComposerChange(); } },
    composerMode: () => (composer ? (editor.rich() ? "rich" : "markdown") : null),
    saveDraftNow: () => saveDraft(),
    setTheme: (t) => { document.body.classList.remove("theme-light", "theme-dark"); document.body.classList.add(`theme-${t}`); },
  };

  applyViewClasses();
  wideEnough.addEventListener("change", onViewChange);
  window.addEventListener("resize", () => { if (topicState) updateTopicProgress(); });
  renderHeader();
  route();
})();
