// Firefox background page (event page): router and engine in one context. Firefox suspends it
// when idle; the engine reboots on the next request and its state is in IndexedDB.
import { createRouter } from "./router.js";
import { EngineHost } from "../engine/host.js";

const api = globalThis.browser;
const host = new EngineHost({ testHooks: !!(globalThis.EFD_CONFIG || {}).testHooks });

createRouter({
  api,
  engineCall: (type, payload, context) => host.handle(type, payload, context),
  dropEngine: async () => host.drop(),
  routerPaths: [],
}).listen();
