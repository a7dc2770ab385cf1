// The attacks of tests/e2e/test_attacks.py, as page scripts of a malicious forum. Injected once in
// every page; a test chooses the attack of the next pages with localStorage (page world):
//   localStorage.attack = "<name>" (and localStorage.attack_arg for its argument).
// Each attack is what an admin who edits the forum's JavaScript could ship.
(function () {
  const name = localStorage.getItem("attack");
  const arg = localStorage.getItem("attack_arg");
  if (!name) return;
  window.__attack = { name, log: [] };
  const log = (what) => window.__attack.log.push(what);
  const each = (selector, fn) => {
    const run = () => { for (const el of document.querySelectorAll(selector)) fn(el); };
    new MutationObserver(run).observe(document.documentElement, { childList: true, subtree: true });
    document.addEventListener("DOMContentLoaded", run);
  };
  const ENCRYPTED = "-----BEGIN EFD MESSAGE-----";

  const attacks = {
    // The page says every post belongs to topic `arg`, and shows that topic's URL.
    swap_topic() {
      each("article[data-post-id]", (a) => {
        if (a.getAttribute("data-topic-id") !== arg) { a.setAttribute("data-topic-id", arg); log("swapped"); }
      });
      const m = location.pathname.match(/^(.*\/t\/)(?:[^/]+\/)?(\d+)/);
      if (m && m[2] !== arg) history.replaceState(null, "", `${m[1]}${arg}`);
    },
    // The composer is made nearly transparent: the user sees the page's button, not our frame.
    transparent_composer() {
      each(".efd-composer-dock, iframe.efd-composer", (el) => { el.style.opacity = "0.02"; });
    },
    // A page element lies over the composer, letting clicks through to it (pointer-events none).
    cover_composer() {
      each("iframe.efd-composer", (f) => {
        if (document.getElementById("attack-cover")) return;
        const r = f.getBoundingClientRect();
        const c = document.createElement("div");
        c.id = "attack-cover";
        c.textContent = "Click here to claim your prize";
        c.style.cssText = `position:fixed;left:${r.left}px;top:${r.top}px;width:${r.width}px;height:${r.height}px;` +
          "z-index:2147483647;pointer-events:none;background:rgba(255,255,255,0.97);font-size:30px";
        document.body.append(c);
        log("covered");
      });
    },
    // While the user types in our composer, the page takes the keyboard focus.
    steal_focus() {
      const input = document.createElement("input");
      input.id = "attack-input";
      input.style.cssText = "position:fixed;left:0;top:0;width:120px";
      document.addEventListener("DOMContentLoaded", () => document.body.append(input));
      setInterval(() => {
        const a = document.activeElement;
        if (a && a.tagName === "IFRAME" && a.classList.contains("efd-composer")) {
          setTimeout(() => { input.focus(); log("stolen"); }, 300);
        }
      }, 400);
    },
    // A look-alike viewer is drawn first, and the post body is marked as already decorated.
    counterfeit_viewer() {
      each("article[data-post-id] .cooked", (c) => {
        if (!(c.textContent || "").includes(ENCRYPTED) || c.dataset.attackFaked) return;
        c.dataset.attackFaked = "1";
        c.setAttribute("data-efd-state", "framed");
        const f = document.createElement("iframe");
        f.className = "efd-viewer";
        f.dataset.efdPostId = c.closest("article").getAttribute("data-post-id");
        f.srcdoc = "<p>Signature valid \u00b7 key verified</p><p>Please send your passphrase to the admin.</p>";
        c.after(f);
        log("faked");
      });
    },
    // A base path of the page's choosing, written before our content script reads it.
    fake_base_uri() {
      const m = document.createElement("meta");
      m.name = "discourse-base-uri";
      m.content = arg || "/attack-base";
      (document.head || document.documentElement).append(m);
      log("meta");
    },
    // Thousands of posts that look encrypted, put before the real ones.
    flood() {
      document.addEventListener("DOMContentLoaded", () => setTimeout(() => {
        const stream = document.querySelector(".post-stream") || document.body;
        const first = stream.firstChild;
        const n = parseInt(arg || "1500", 10);
        for (let i = 0; i < n; i++) {
          const a = document.createElement("article");
          a.setAttribute("data-post-id", String(900000 + i));
          a.setAttribute("data-topic-id", String(900000 + i));
          const c = document.createElement("div");
          c.className = "cooked";
          c.innerHTML = `<pre><code>${ENCRYPTED}\nAAAA\n-----END EFD MESSAGE-----</code></pre>`;
          a.append(c);
          stream.insertBefore(a, first);
        }
        log("flooded");
      }, 1500));
    },
  };
  if (attacks[name]) attacks[name]();
})();
