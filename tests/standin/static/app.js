// The stand-in's single-page app: a small vanilla-JS imitation of Discourse's Ember frontend.
// It reproduces what an extension relies on (DOM anchors, pushState navigation, post cloaking,
// the composer and its draft autosave), not Discourse's look.
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

  // ------------------------------------------------------------------ helpers
  function h(tag, attrs, children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k === "html") el.innerHTML = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return el;
  }

  // Like Discourse's ajax(): same-origin fetch with CSRF + XHR headers, form-encoded bodies.
  async function ajax(method, url, data, retried) {
    const opts = {
      method,
      credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest", Accept: "application/json" },
    };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrfToken;
    if (data) {
      opts.body = new URLSearchParams(data);
      opts.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8";
    }
    const r = await fetch(url, opts);
    const text = await r.text();
    if (r.status === 403 && text === '["BAD CSRF"]' && !retried) {
      const c = await fetch("/session/csrf.json", { credentials: "same-origin", headers: opts.headers });
      csrfToken = (await c.json()).csrf;
      return ajax(method, url, data, true);
    }
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    return { status: r.status, ok: r.ok, json, text };
  }

  function errorText(res) {
    const j = res.json || {};
    if (Array.isArray(j.errors)) return j.errors.join("\n");
    return j.error || j.message || j.failed || `HTTP ${res.status}`;
  }

  const slugOf = (t) => t.slug || "topic";

  // ------------------------------------------------------------------ header
  function renderHeader() {
    const box = document.querySelector(".header-user");
    if (!box) return;
    box.textContent = "";
    if (currentUser) {
      const u = currentUser.username;
      box.append(
        h("a", { id: "current-user", class: "header-dropdown-toggle current-user", href: `/u/${u}`, text: u }), " ",
        h("a", { class: "user-messages-link", href: `/u/${u}/messages`, text: "Messages" }), " ",
        h("a", { id: "new-message-link", href: "/new-message", text: "New message" }), " ",
        h("a", { class: "preferences-link", href: `/u/${u}/preferences/profile`, text: "Profile" }), " ",
        h("button", { id: "standin-logout", class: "btn logout", text: "Log out", onclick: logout }),
      );
    } else {
      box.append(h("a", { class: "btn btn-primary login-button", href: "/login", text: "Log in" }));
    }
  }

  async function logout() {
    await ajax("DELETE", `/session/${encodeURIComponent(currentUser.username)}.json`);
    window.location.href = "/";
  }

  // ------------------------------------------------------------------ router
  const routes = [
    [/^\/login\/?$/, renderLogin, "login"],
    [/^\/new-message\/?$/, renderNewMessage, "new-message"],
    [/^\/t\/(?:[^/]+\/)?(\d+)(?:\/(\d+))?\/?$/, renderTopic, "topic"],
    [/^\/u\/([^/]+)\/messages\/sent\/?$/, (m, t) => renderMessages(m, true, t), "user-messages-sent"],
    [/^\/u\/([^/]+)\/messages\/?$/, (m, t) => renderMessages(m, false, t), "user-messages"],
    [/^\/u\/([^/]+)\/preferences(?:\/profile)?\/?$/, renderPreferences, "user-preferences"],
    [/^\/u\/([^/]+)(?:\/summary|\/activity)?\/?$/, renderProfile, "user"],
    [/^\/(latest)?\/?$/, renderHome, "home"],
  ];

  const routeBodyClasses = ["archetype-private_message", "archetype-regular", "user-messages-page",
    "user-preferences-page", "user-page", "navigation-topics", "login-page", "new-message-page"];

  let renderToken = 0;
  async function route() {
    const token = ++renderToken;
    const path = window.location.pathname;
    document.body.classList.remove(...routeBodyClasses);
    document.body.removeAttribute("data-standin-ready");
    stopAutoCloak();
    outlet.textContent = "";
    let name = "not-found";
    for (const [re, fn, n] of routes) {
      const m = path.match(re);
      if (m) {
        name = n;
        document.body.dataset.standinRoute = n;
        try { await fn(m, token); } catch (e) { showError(String(e)); }
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
    document.dispatchEvent(new CustomEvent("standin:rendered", { detail: { route: name, path } }));
  }

  function navigate(url, replace) {
    if (replace) history.replaceState({}, "", url);
    else history.pushState({}, "", url);
    return route();
  }

  // Intercept same-origin links like Ember's router: no page reload, content scripts run once.
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download") || a.dataset.fullReload !== undefined) return;
    const url = new URL(a.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.startsWith("/assets/") || url.pathname.startsWith("/raw/")) return;
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
      h("a", { href: "/login", class: "btn btn-primary", text: "Log in" }));
    return false;
  }

  // ------------------------------------------------------------------ pages
  function renderHome() {
    document.body.classList.add("navigation-topics");
    const box = h("div", { class: "list-container" });
    if (currentUser) {
      box.append(h("h2", { text: `Welcome, ${currentUser.username}` }),
        h("p", {}, [h("a", { href: `/u/${currentUser.username}/messages`, class: "inbox-link", text: "Your messages" })]),
        h("p", {}, [h("a", { href: "/new-message", class: "new-message-link", text: "New message" })]));
    } else {
      box.append(h("p", { text: "Welcome to the stand-in forum." }), h("a", { href: "/login", class: "btn btn-primary", text: "Log in" }));
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
        window.location.href = "/"; // Discourse reloads the app after logging in
      } else {
        err.hidden = false;
        err.textContent = errorText(res);
      }
    });
    outlet.append(h("div", { class: "login-fullpage" }, [h("h1", { text: "Log in" }), form]));
  }

  async function renderMessages(m, sent, token) {
    if (!requireLogin()) return;
    document.body.classList.add("user-messages-page");
    const username = decodeURIComponent(m[1]);
    const url = sent ? `/topics/private-messages-sent/${encodeURIComponent(username)}.json`
      : `/topics/private-messages/${encodeURIComponent(username)}.json`;
    const res = await ajax("GET", url);
    if (token !== renderToken) return;
    const nav = h("ul", { class: "messages-nav user-nav-messages" }, [
      h("li", {}, [h("a", { href: `/u/${username}/messages`, class: sent ? "" : "active", text: "Inbox" })]),
      h("li", {}, [h("a", { href: `/u/${username}/messages/sent`, class: sent ? "active" : "", text: "Sent" })]),
      h("li", {}, [h("a", { href: "/new-message", class: "btn btn-primary new-private-message", text: "New Message" })]),
    ]);
    outlet.append(nav);
    if (!res.ok) return showError(errorText(res));
    const rows = res.json.topic_list.topics.map((t) => h("tr", { class: "topic-list-item", "data-topic-id": t.id }, [
      h("td", { class: "main-link" }, [h("a", { class: "title raw-link raw-topic-link", href: `/t/${slugOf(t)}/${t.id}`, "data-topic-id": t.id, text: t.title })]),
      h("td", { class: "posts", text: String(t.posts_count) }),
      h("td", { class: "last-poster", text: t.last_poster_username }),
    ]));
    outlet.append(h("table", { class: "topic-list" }, [h("tbody", {}, rows)]));
    if (!rows.length) outlet.append(h("div", { class: "empty-state", text: "You have no messages." }));
  }

  async function renderProfile(m, token) {
    document.body.classList.add("user-page");
    const username = decodeURIComponent(m[1]);
    const res = await ajax("GET", `/u/${encodeURIComponent(username)}.json`);
    if (token !== renderToken) return;
    if (!res.ok) return showError(errorText(res));
    const u = res.json.user;
    const actions = [];
    if (currentUser && currentUser.username !== u.username) {
      actions.push(h("a", { class: "btn btn-primary compose-pm", href: `/new-message?username=${encodeURIComponent(u.username)}`, text: "Message" }));
    }
    if (currentUser && currentUser.username === u.username) {
      actions.push(h("a", { class: "btn user-preferences-link", href: `/u/${u.username}/preferences/profile`, text: "Preferences" }));
    }
    outlet.append(h("section", { class: "user-main", "data-user-id": u.id }, [
      h("div", { class: "user-profile-names" }, [h("h1", { class: "username", text: u.username }), h("h2", { class: "full-name", text: u.name })]),
      h("div", { class: "primary" }, [h("div", { class: "bio", html: u.bio_cooked || "" })]),
      h("div", { class: "user-profile-controls" }, actions),
    ]));
  }

  async function renderPreferences(m, token) {
    if (!requireLogin()) return;
    document.body.classList.add("user-preferences-page");
    const username = decodeURIComponent(m[1]);
    const res = await ajax("GET", `/u/${encodeURIComponent(username)}.json`);
    if (token !== renderToken) return;
    if (!res.ok) return showError(errorText(res));
    const area = h("textarea", { class: "d-editor-input", id: "bio-raw" });
    area.value = res.json.user.bio_raw || "";
    const status = h("span", { class: "saved", hidden: true, text: "Saved!" });
    const err = h("div", { class: "alert alert-error bio-error", hidden: true });
    const save = h("button", { class: "btn btn-primary save-changes", type: "button", text: "Save Changes" });
    save.addEventListener("click", async () => {
      status.hidden = true; err.hidden = true;
      const r = await ajax("PUT", `/u/${encodeURIComponent(username)}.json`, { bio_raw: area.value });
      if (r.ok) status.hidden = false;
      else { err.hidden = false; err.textContent = errorText(r); }
    });
    outlet.append(h("div", { class: "user-preferences" }, [
      h("h2", { text: "Profile" }),
      h("div", { class: "control-group pref-bio" }, [
        h("label", { class: "control-label", text: "About me" }),
        h("div", { class: "bio-composer" }, [h("div", { class: "d-editor" }, [h("div", { class: "d-editor-textarea-wrapper" }, [area])])]),
      ]),
      err,
      h("div", { class: "save-button" }, [save, status]),
    ]));
  }

  function renderNewMessage() {
    if (!requireLogin()) return;
    document.body.classList.add("new-message-page");
    const q = new URLSearchParams(window.location.search);
    outlet.append(h("div", { class: "new-message-route" }, [h("p", { text: "Write your message below." })]));
    openComposer({ action: "privateMessage", draftKey: "new_private_message",
      recipients: q.get("username") || "", title: q.get("title") || "", reply: q.get("body") || "" });
  }

  // ------------------------------------------------------------------ topic & post stream
  let topicState = null; // {topic, posts: Map(post_number -> post), stream, loadedIds:Set}

  async function renderTopic(m, token) {
    if (!requireLogin()) return;
    const id = Number(m[1]);
    let topic = preload(`topic_${id}`);
    if (preloaded[`topic_${id}`]) delete preloaded[`topic_${id}`]; // only the first render uses the preload
    if (!topic) {
      const res = await ajax("GET", `/t/${id}.json`);
      if (token !== renderToken) return;
      if (!res.ok) return showError(errorText(res));
      topic = res.json;
    }
    topicState = { topic, posts: new Map(), stream: topic.post_stream.stream.slice(), loaded: new Set() };
    document.body.classList.add(`archetype-${topic.archetype}`);
    const title = h("div", { id: "topic-title" }, [
      h("h1", { "data-topic-id": topic.id }, [h("a", { class: "fancy-title", href: `/t/${topic.slug}/${topic.id}`, html: topic.fancy_title })]),
    ]);
    const allowed = (topic.details.allowed_users || []).map((u) =>
      h("a", { class: "user", href: `/u/${u.username}`, "data-user-card": u.username, text: u.username }));
    const map = h("div", { class: "topic-map --op private-message-map" }, [h("span", { text: "Participants: " }), ...allowed]);
    const stream = h("div", { class: "post-stream" });
    const footer = h("div", { id: "topic-footer-buttons" }, [
      h("button", { class: "btn btn-primary create topic-footer-button", type: "button", text: "Reply", onclick: () => openReply() }),
    ]);
    outlet.append(h("div", { class: "container posts" }, [title, map, stream, footer]));
    appendPosts(topic.post_stream.posts);
    maybeLoadMore();
    if (standinCfg.cloaking) startAutoCloak();
  }

  function postWrapper(p) {
    const mine = currentUser && p.user_id === currentUser.id;
    if (p.post_type === 3) {
      return h("div", { class: "topic-post small-action-post", "data-post-number": p.post_number }, [
        h("div", { id: `post_${p.post_number}`, class: "small-action onscreen-post", "data-post-id": p.id, "data-topic-id": p.topic_id }, [
          h("div", { class: "small-action-desc", text: `${p.username}: ${p.action_code || "small action"}` }),
        ]),
      ]);
    }
    const names = h("div", { class: "names trigger-user-card" }, [
      h("span", { class: "first username" }, [h("a", { href: `/u/${p.username}`, "data-user-card": p.username, text: p.username })]),
      p.name ? h("span", { class: "second full-name", text: p.name }) : null,
    ]);
    const controls = h("nav", { class: "post-controls" }, [h("div", { class: "actions" }, [
      p.can_edit ? h("button", { class: "btn edit", type: "button", title: "edit this post", text: "Edit", onclick: () => openEdit(p) }) : null,
      h("button", { class: "btn reply", type: "button", text: "Reply", onclick: () => openReply(p.post_number) }),
    ])]);
    const article = h("article", {
      id: `post_${p.post_number}`, class: "boxed onscreen-post", "data-post-id": p.id, "data-topic-id": p.topic_id,
      "data-user-id": p.user_id, role: "region", "aria-label": `post #${p.post_number} by @${p.username}`,
    }, [h("div", { class: "row" }, [
      h("div", { class: "topic-avatar" }, [h("span", { class: "avatar-letter", text: p.username.slice(0, 1).toUpperCase() })]),
      h("div", { class: "post__body topic-body clearfix" }, [
        h("div", { class: "topic-meta-data" }, [names, h("div", { class: "post-infos" }, [h("span", { class: "post-number", text: `#${p.post_number}` })])]),
        h("div", { class: "post__regular regular post__contents contents" }, [
          h("div", { class: "cooked", html: p.cooked }),
          h("section", { class: "post__menu-area post-menu-area clearfix" }, [controls]),
        ]),
      ]),
    ])]);
    return h("div", { class: `topic-post clearfix regular${mine ? " current-user-post post--current-user" : ""}`, "data-post-number": p.post_number }, [article]);
  }

  function appendPosts(posts) {
    const stream = document.querySelector(".post-stream");
    if (!stream || !topicState) return;
    for (const p of posts) {
      if (topicState.loaded.has(p.id)) continue;
      topicState.loaded.add(p.id);
      topicState.posts.set(p.post_number, p);
      const el = postWrapper(p);
      stream.append(el);
      if (autoCloak) autoCloak.observe(el);
    }
  }

  async function maybeLoadMore() {
    if (!topicState) return;
    const missing = topicState.stream.filter((id) => !topicState.loaded.has(id));
    const old = document.querySelector(".post-stream-load-more");
    if (old) old.remove();
    if (!missing.length) return;
    const btn = h("button", { class: "btn post-stream-load-more load-more", type: "button", text: `Load ${Math.min(20, missing.length)} more` });
    btn.addEventListener("click", () => loadMore());
    document.querySelector(".post-stream").after(btn);
    // Like Discourse's infinite scroll: load the next chunk when the bottom comes into view.
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { io.disconnect(); loadMore(); }
    });
    io.observe(btn);
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
  }

  async function refreshTopic() {
    if (!topicState) return;
    const res = await ajax("GET", `/t/${topicState.topic.id}.json`);
    if (!res.ok) return;
    topicState.stream = res.json.post_stream.stream.slice();
    // re-render revised posts in place (Discourse re-renders .cooked on "revised")
    for (const p of res.json.post_stream.posts) {
      const known = [...topicState.posts.values()].find((x) => x.id === p.id);
      if (known && known.version !== p.version) {
        topicState.posts.set(p.post_number, p);
        rerenderCooked(p.post_number);
      }
    }
    appendPosts(res.json.post_stream.posts);
    maybeLoadMore();
  }

  // ------------------------------------------------------------------ cloaking
  function wrapperFor(n) {
    return document.querySelector(`.post-stream > .topic-post[data-post-number="${n}"]`);
  }
  function cloakedFor(n) {
    return document.querySelector(`.post-stream > div[data-post-number="${n}"]:not(.topic-post)`);
  }

  // Off-screen: the whole post subtree becomes an empty div keeping only id and data-post-number.
  function cloak(n) {
    const w = wrapperFor(n);
    if (!w) return false;
    const ph = document.createElement("div");
    ph.id = `post_${n}`;
    ph.setAttribute("data-post-number", String(n));
    ph.style.height = `${w.getBoundingClientRect().height || 100}px`;
    if (autoCloak) { autoCloak.unobserve(w); }
    w.replaceWith(ph);
    if (autoCloak) autoCloak.observe(ph);
    return true;
  }

  // Back on screen: the subtree is created anew (new nodes, no state carried over).
  function uncloak(n) {
    const ph = cloakedFor(n);
    const p = topicState && topicState.posts.get(Number(n));
    if (!ph || !p) return false;
    const w = postWrapper(p);
    if (autoCloak) autoCloak.unobserve(ph);
    ph.replaceWith(w);
    if (autoCloak) autoCloak.observe(w);
    return true;
  }

  // Like DecoratedHtml after a "revised" message: .cooked is replaced by a fresh element.
  function rerenderCooked(n) {
    const w = wrapperFor(n);
    const p = topicState && topicState.posts.get(Number(n));
    if (!w || !p) return false;
    const old = w.querySelector(".cooked");
    if (!old) return false;
    old.replaceWith(h("div", { class: "cooked", html: p.cooked }));
    return true;
  }

  let autoCloak = null;
  function startAutoCloak() {
    stopAutoCloak();
    autoCloak = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const n = e.target.getAttribute("data-post-number");
        const cloaked = !e.target.classList.contains("topic-post");
        if (e.isIntersecting && cloaked) uncloak(n);
        else if (!e.isIntersecting && !cloaked) cloak(n);
      }
    }, { rootMargin: "200px 0px" });
    document.querySelectorAll(".post-stream > [data-post-number]").forEach((el) => autoCloak.observe(el));
  }
  function stopAutoCloak() {
    if (autoCloak) autoCloak.disconnect();
    autoCloak = null;
  }

  // ------------------------------------------------------------------ composer
  let composer = null; // {action, draftKey, topicId, postId, sequence, openedAt, typingMs, timer}

  function buildComposer() {
    replyControl.textContent = "";
    replyControl.append(h("div", { class: "reply-area" }, [
      h("div", { class: "composer-fields" }, [
        h("div", { class: "composer-action-title" }, [h("span", { class: "action-title" })]),
        h("div", { class: "title-and-category" }, [
          h("input", { id: "private-message-users", class: "user-chooser", type: "text", placeholder: "Add a user", autocomplete: "off" }),
          h("input", { id: "reply-title", type: "text", placeholder: "Type title, or paste a link here", maxlength: 255 }),
        ]),
      ]),
      h("div", { class: "d-editor" }, [h("div", { class: "d-editor-container" }, [
        h("div", { class: "d-editor-textarea-wrapper" }, [
          h("div", { class: "d-editor-button-bar" }, [h("button", { class: "btn bold", type: "button", text: "B" })]),
          h("textarea", { class: "d-editor-input", placeholder: "Type here. Use Markdown." }),
        ]),
        h("div", { class: "d-editor-preview-wrapper" }, [h("div", { class: "d-editor-preview" })]),
      ])]),
      h("div", { class: "composer-error popup-tip bad", hidden: true }),
      h("div", { class: "save-or-cancel" }, [
        h("button", { class: "btn btn-primary create", type: "button", text: "Reply" }),
        h("a", { class: "cancel", href: "#", text: "Cancel" }),
        h("span", { class: "saving-text", hidden: true, text: "Saving…" }),
        h("span", { class: "draft-saved", hidden: true, text: "Draft saved" }),
      ]),
    ]));
    const area = replyControl.querySelector(".d-editor-input");
    for (const el of [area, replyControl.querySelector("#reply-title"), replyControl.querySelector("#private-message-users")]) {
      el.addEventListener("input", onComposerInput);
    }
    replyControl.querySelector(".save-or-cancel .create").addEventListener("click", submitComposer);
    replyControl.querySelector(".save-or-cancel .cancel").addEventListener("click", (e) => { e.preventDefault(); closeComposer(); });
    replyControl.querySelector(".d-editor-button-bar .bold").addEventListener("click", () => {
      area.setRangeText(`**${area.value.slice(area.selectionStart, area.selectionEnd) || "strong text"}**`);
      onComposerInput();
    });
  }

  async function openComposer(opts) {
    if (!currentUser) return;
    buildComposer();
    composer = { ...opts, openedAt: Date.now(), typingMs: 0, lastKey: 0, timer: null, sequence: 0 };
    const isPM = opts.action === "privateMessage";
    replyControl.className = `open ${isPM ? "private-message" : opts.action}`;
    replyControl.querySelector(".action-title").textContent =
      isPM ? "New message" : opts.action === "edit" ? `Edit post #${opts.postNumber}` : "Reply";
    replyControl.querySelector("#private-message-users").hidden = !isPM;
    replyControl.querySelector("#reply-title").hidden = !(isPM || (opts.action === "edit" && opts.postNumber === 1));
    replyControl.querySelector("#private-message-users").value = opts.recipients || "";
    replyControl.querySelector("#reply-title").value = opts.title || "";
    replyControl.querySelector(".save-or-cancel .create").textContent = isPM ? "Send message" : opts.action === "edit" ? "Save edit" : "Reply";
    const area = replyControl.querySelector(".d-editor-input");
    area.value = opts.reply || "";
    updatePreview();
    // Like Discourse: load the current draft sequence (and the draft) for this key.
    const res = await ajax("GET", `/drafts/${encodeURIComponent(opts.draftKey)}.json`);
    if (res.ok && composer && composer.draftKey === opts.draftKey) {
      composer.sequence = res.json.draft_sequence || 0;
      if (res.json.draft && !opts.reply && opts.action !== "edit") {
        try {
          const d = JSON.parse(res.json.draft);
          area.value = d.reply || "";
          if (d.title) replyControl.querySelector("#reply-title").value = d.title;
          if (d.recipients) replyControl.querySelector("#private-message-users").value = d.recipients;
          updatePreview();
        } catch (e) { /* ignore a malformed draft */ }
      }
    }
    area.focus();
    document.dispatchEvent(new CustomEvent("standin:composer-open", { detail: { action: opts.action } }));
  }

  function openReply(replyTo) {
    if (!topicState) return;
    openComposer({ action: "reply", draftKey: `topic_${topicState.topic.id}`, topicId: topicState.topic.id, replyTo });
  }

  async function openEdit(p) {
    const res = await ajax("GET", `/posts/${p.id}.json`);
    if (!res.ok) return;
    openComposer({ action: "edit", draftKey: `topic_${p.topic_id}`, topicId: p.topic_id, postId: p.id,
      postNumber: p.post_number, reply: res.json.raw, title: p.post_number === 1 ? topicState.topic.title : "" });
  }

  function closeComposer() {
    if (composer && composer.timer) clearTimeout(composer.timer);
    composer = null;
    replyControl.className = "closed";
    replyControl.textContent = "";
  }

  function updatePreview() {
    const area = replyControl.querySelector(".d-editor-input");
    const prev = replyControl.querySelector(".d-editor-preview");
    if (!area || !prev) return;
    prev.textContent = "";
    for (const para of area.value.split(/\n{2,}/)) if (para) prev.append(h("p", { text: para }));
  }

  function onComposerInput() {
    if (!composer) return;
    const t = Date.now();
    if (composer.lastKey && t - composer.lastKey < 5000) composer.typingMs += t - composer.lastKey;
    composer.lastKey = t;
    updatePreview();
    // Discourse saves the draft on a ~2 s cadence while the user types (and once after they stop).
    if (!composer.timer) composer.timer = setTimeout(saveDraft, standinCfg.draft_autosave_ms || 2000);
  }

  function composerData() {
    return {
      reply: replyControl.querySelector(".d-editor-input").value,
      title: replyControl.querySelector("#reply-title").value,
      action: composer.action,
      recipients: composer.action === "privateMessage" ? replyControl.querySelector("#private-message-users").value : undefined,
      archetypeId: composer.action === "privateMessage" ? "private_message" : "regular",
      categoryId: null,
      postId: composer.postId,
      composerTime: Date.now() - composer.openedAt,
      typingTime: composer.typingMs,
    };
  }

  async function saveDraft() {
    if (!composer) return;
    composer.timer = null;
    const c = composer;
    const saving = replyControl.querySelector(".saving-text");
    if (saving) saving.hidden = false;
    const res = await ajax("POST", "/drafts.json", { draft_key: c.draftKey, sequence: c.sequence, data: JSON.stringify(composerData()) });
    if (saving) saving.hidden = true;
    if (composer !== c) return;
    if (res.ok) {
      c.sequence = res.json.draft_sequence;
      const s = replyControl.querySelector(".draft-saved");
      if (s) s.hidden = false;
      document.dispatchEvent(new CustomEvent("standin:draft-saved", { detail: { key: c.draftKey } }));
    } else if (res.status === 409 && res.json && typeof res.json.draft_sequence === "number") {
      c.sequence = res.json.draft_sequence;
    }
  }

  async function submitComposer() {
    if (!composer) return;
    const c = composer;
    if (c.timer) { clearTimeout(c.timer); c.timer = null; }
    const err = replyControl.querySelector(".composer-error");
    err.hidden = true;
    const raw = replyControl.querySelector(".d-editor-input").value;
    let res;
    if (c.action === "edit") {
      const data = { "post[raw]": raw };
      const title = replyControl.querySelector("#reply-title").value;
      if (c.postNumber === 1 && title) data.title = title;
      res = await ajax("PUT", `/posts/${c.postId}.json`, data);
    } else {
      const data = { raw, draft_key: c.draftKey, typing_duration_msecs: c.typingMs, composer_open_duration_msecs: Date.now() - c.openedAt };
      if (c.action === "privateMessage") {
        data.archetype = "private_message";
        data.title = replyControl.querySelector("#reply-title").value;
        data.target_recipients = replyControl.querySelector("#private-message-users").value;
      } else {
        data.topic_id = c.topicId;
        if (c.replyTo) data.reply_to_post_number = c.replyTo;
      }
      res = await ajax("POST", "/posts.json", data);
    }
    if (!res.ok) {
      err.hidden = false;
      err.textContent = errorText(res);
      document.dispatchEvent(new CustomEvent("standin:composer-error", { detail: { status: res.status } }));
      return;
    }
    closeComposer();
    if (res.json && res.json.action === "enqueued") {
      outlet.prepend(h("div", { class: "alert alert-info pending-post-notice", text: "Your post was submitted and is waiting for approval." }));
    } else if (c.action === "privateMessage") {
      await navigate(`/t/${res.json.topic_slug}/${res.json.topic_id}`);
    } else if (topicState && topicState.topic.id === c.topicId) {
      await refreshTopic();
    }
    document.dispatchEvent(new CustomEvent("standin:posted", { detail: { action: c.action } }));
  }

  // ------------------------------------------------------------------ test hooks (page world)
  window.__standin = {
    get routeCount() { return routeCount; },
    navigate: (url) => navigate(url),
    cloak: (n) => cloak(n),
    uncloak: (n) => uncloak(n),
    setAutoCloak: (on) => (on ? startAutoCloak() : stopAutoCloak()),
    rerenderCooked: (n) => rerenderCooked(n),
    refreshTopic: () => refreshTopic(),
    loadMore: () => loadMore(),
    openReply: () => openReply(),
    saveDraftNow: () => saveDraft(),
    setTheme: (t) => { document.body.classList.remove("theme-light", "theme-dark"); document.body.classList.add(`theme-${t}`); },
  };

  renderHeader();
  route();
})();
