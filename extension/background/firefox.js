// Firefox background page (event page): router and engine in one context. Firefox suspends it
// when idle; the engine reboots on the next request and its state is in IndexedDB.
import { createRouter } from "./router.js";
import { EngineHost } from "../engine/host.js";

const api = globalThis.browser;
const cfg = globalThis.EFD_CONFIG || {};
const host = new EngineHost({ testHooks: !!cfg.testHooks, buildId: cfg.buildId });

createRouter({
  api,
  engineCall: (type, payload, context) => host.handle(type, payload, context),
  dropEngine: async () => host.drop(),
}).listen();
