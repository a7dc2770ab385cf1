// For tests/i18n_check.py: every string and template literal of the JavaScript sources given on
// stdin ({name: source}), with the context that makes it a non-user string, and every t("key", …)
// call with its number of substitutions. Prints {name: {literals, keys} | {error}}.
import { readFileSync } from "node:fs";
import * as acorn from "acorn";

const SELECTOR_CALLS = new Set(["querySelector", "querySelectorAll", "closest", "matches", "$", "getElementById"]);
const COMPARISONS = new Set(["===", "!==", "==", "!="]);
// Properties and attributes whose values are names or formats, never words.
const NAME_PROPS = new Set(["className", "class", "rel", "type", "id", "cssText", "href", "src", "target"]);
// Calls whose arguments after the first are a developer's message: M.fail(code, message).
const DEVELOPER_CALLS = new Set(["fail"]);

function calleeName(c) {
  if (!c) return null;
  if (c.type === "Identifier") return c.name;
  if (c.type === "MemberExpression" && !c.computed) return c.property.name;
  return null;
}
function isConsole(c) {
  return c && c.type === "MemberExpression" && c.object.type === "Identifier" && c.object.name === "console";
}
const isT = (call) => call.type === "CallExpression" && ["t", "tNodes"].includes(calleeName(call.callee));

function walk(node, parents, visit) {
  if (!node || typeof node.type !== "string") return;
  visit(node, parents);
  parents.push(node);
  for (const [k, v] of Object.entries(node)) {
    if (k === "type" || k === "start" || k === "end" || k === "loc") continue;
    if (Array.isArray(v)) for (const c of v) walk(c, parents, visit);
    else if (v && typeof v.type === "string") walk(v, parents, visit);
  }
  parents.pop();
}

// Why a literal is not for users, or null.
function context(node, parents) {
  const parent = parents[parents.length - 1];
  if (parent.type === "ExpressionStatement" && parent.directive) return "directive";
  // The value of a name-like property or attribute, possibly built with + or ?: or a template.
  let child = node;
  for (let i = parents.length - 1; i >= 0; i--) {
    const p = parents[i];
    if (["BinaryExpression", "ConditionalExpression", "LogicalExpression", "TemplateLiteral"].includes(p.type)) { child = p; continue; }
    if (p.type === "AssignmentExpression" && p.right === child && p.left.type === "MemberExpression"
      && !p.left.computed && NAME_PROPS.has(p.left.property.name)) return "name";
    if (p.type === "Property" && p.value === child && NAME_PROPS.has(p.key.name ?? p.key.value)) return "name";
    break;
  }
  if (parent.type === "Property" && parent.key === node && !parent.computed) return "property key";
  if (parent.type === "MemberExpression" && parent.property === node) return "property";
  if (["ImportDeclaration", "ExportAllDeclaration", "ExportNamedDeclaration", "ImportExpression"].includes(parent.type)) return "import";
  if (parent.type === "BinaryExpression" && COMPARISONS.has(parent.operator)) return "comparison";
  if (parent.type === "SwitchCase" && parent.test === node) return "comparison";
  if (isT(parent) && parent.arguments[0] === node) return "message key";
  if (parent.type === "ConditionalExpression" && parent.test !== node && isT(parents[parents.length - 2] || {})
    && parents[parents.length - 2].arguments[0] === parent) return "message key";
  for (let i = parents.length - 1; i >= 0; i--) {
    const p = parents[i];
    if (p.type === "ThrowStatement") return "developer";
    if (p.type === "NewExpression" && /Error$|^Rejected$/.test(calleeName(p.callee) || "")) return "developer";
    if (p.type === "CallExpression") {
      if (isConsole(p.callee)) return "developer";
      if (DEVELOPER_CALLS.has(calleeName(p.callee)) && p.arguments.indexOf(parents[i + 1] || node) > 0) return "developer";
      if (SELECTOR_CALLS.has(calleeName(p.callee)) && p.arguments.includes(parents[i + 1] || node)) return "selector";
    }
    if (/Statement$|Declaration$/.test(p.type)) break;
  }
  return null;
}

function scan(src) {
  const ast = acorn.parse(src, { ecmaVersion: "latest", sourceType: "module", locations: true, allowHashBang: true });
  const literals = [], keys = [];
  walk(ast, [], (node, parents) => {
    if (node.type === "Literal" && typeof node.value === "string") {
      literals.push({ value: node.value, line: node.loc.start.line, context: context(node, parents) });
    } else if (node.type === "TemplateLiteral") {
      if (parents[parents.length - 1].type === "TaggedTemplateExpression") return;
      const value = node.quasis.map((q) => q.value.cooked ?? q.value.raw).join("0");
      literals.push({ value, line: node.loc.start.line, context: context(node, parents) });
    } else if (isT(node) && node.arguments.length) {
      // t(key, subs) and tNodes(key, elements, subs): the key, or both keys of a ?: choice
      const [k] = node.arguments;
      const count = (s) => s === undefined ? 0 : s.type === "ArrayExpression"
        ? (s.elements.some((e) => e && e.type === "SpreadElement") ? null : s.elements.length) : 1;
      let subs = count(node.arguments[1]);
      if (calleeName(node.callee) === "tNodes") {
        const more = count(node.arguments[2]);
        subs = subs === null || more === null ? null : subs + more;
      }
      const lits = k.type === "ConditionalExpression" ? [k.consequent, k.alternate] : [k];
      for (const l of lits) {
        if (l.type === "Literal" && typeof l.value === "string") keys.push({ key: l.value, line: node.loc.start.line, subs });
      }
    }
  });
  return { literals, keys };
}

const sources = JSON.parse(readFileSync(0, "utf8"));
const out = {};
for (const [name, src] of Object.entries(sources)) {
  try { out[name] = scan(src); } catch (e) { out[name] = { error: String(e.message || e) }; }
}
process.stdout.write(JSON.stringify(out));
