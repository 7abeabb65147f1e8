/**
 * The observer page: one self-contained HTML document (no CDN, no build step). It reads the token
 * from the URL fragment (`/observer#token=…`, never sent to the server) or asks for it, then reads
 * `/observer/events` with `fetch` (the token in the `Authorization` header) and renders each
 * snapshot with `textContent` only: user names and resources are untrusted text.
 */
export const OBSERVER_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>otp-chat observer</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header h1{font-size:15px;margin:0}#status{font-size:12px;opacity:.8}
main{display:grid;grid-template-columns:1fr 1fr;gap:12px;padding:12px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:8px 12px;overflow:auto;max-height:340px}
section h2{font-size:13px;margin:0 0 6px}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #eef0f4;white-space:nowrap}
th{font-weight:600;color:#566}details{margin-left:14px}summary{cursor:pointer}
.sup>summary{font-weight:600}.muted{color:#889}.restarts{color:#b45309}
button{font:inherit;padding:1px 8px;cursor:pointer}form{padding:16px}
</style></head><body>
<header><h1>otp-chat observer</h1><span id="node"></span><span id="status">connecting…</span></header>
<form id="login" hidden>Admin token: <input id="token" type="password" size="50"> <button>Open</button></form>
<main id="main" hidden>
<section id="tree-section"><h2>Supervision tree</h2><div id="tree"></div></section>
<section><h2>Processes by mailbox length (<span id="pcount"></span>)</h2><table id="processes"><thead><tr><th>ref</th><th>name</th><th>mailbox</th><th>status</th></tr></thead><tbody></tbody></table></section>
<section><h2>Sessions (<span id="scount"></span>)</h2><table id="sessions"><thead><tr><th>user</th><th>resource</th><th>priority</th><th>node</th><th>since</th><th></th></tr></thead><tbody></tbody></table></section>
<section><h2>Cluster nodes</h2><table id="nodes"><thead><tr><th>node</th><th>state</th></tr></thead><tbody></tbody></table></section>
<section style="grid-column:1/3"><h2>Hooks and handlers</h2><table id="hooks"><thead><tr><th>hook</th><th>host</th><th>handlers (seq name)</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
"use strict";
const open = new Set();
let token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("otp-chat-token") || "";
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
function row(cells) { const tr = el("tr"); for (const c of cells) { const td = el("td"); if (c instanceof Node) td.append(c); else td.textContent = c === null || c === undefined ? "" : String(c); tr.append(td); } return tr; }
function fill(id, rows) { const body = $(id).tBodies[0]; body.replaceChildren(...rows); }
function treeNode(n, path) {
  const label = (n.id === undefined ? "(dynamic)" : n.id) + " " + n.type + " " + n.ref + (n.name ? " [" + n.name + "]" : "") + " mailbox " + n.mailbox;
  if (n.type !== "supervisor") { const d = el("div", label); d.dataset.path = path; if (n.restarts > 0) d.append(el("span", " restarts " + n.restarts, "restarts")); d.style.marginLeft = "14px"; return d; }
  const d = el("details", undefined, "sup"); d.dataset.path = path; if (open.has(path)) d.open = true;
  d.addEventListener("toggle", () => { if (d.open) open.add(path); else open.delete(path); });
  const s = el("summary", label); if (n.restarts > 0) s.append(el("span", " restarts " + n.restarts, "restarts")); d.append(s);
  n.children.forEach((c, i) => d.append(treeNode(c, path + "/" + (c.id === undefined ? i : c.id))));
  if (n.more > 0) d.append(el("div", "… " + n.more + " more", "muted"));
  return d;
}
async function kick(s, button) {
  button.disabled = true;
  const r = await fetch("/api/kick_session", { method: "POST", headers: { authorization: "Bearer " + token, "content-type": "application/json" }, body: JSON.stringify({ user: s.user, host: s.host, resource: s.resource, reason: "Kicked by the operator" }) });
  button.textContent = r.ok ? "kicked" : "failed (" + r.status + ")";
}
function render(snap) {
  $("node").textContent = snap.node;
  $("tree").replaceChildren(...snap.tree.map((n) => treeNode(n, n.id)));
  $("pcount").textContent = snap.processCount;
  fill("processes", snap.processes.map((p) => row([p.ref, p.name, p.mailbox, p.status])));
  $("scount").textContent = snap.sessionCount;
  fill("sessions", snap.sessions.map((s) => { const b = el("button", "kick"); b.dataset.jid = s.user + "@" + s.host + "/" + s.resource; b.addEventListener("click", () => kick(s, b)); return row([s.user + "@" + s.host, s.resource, s.priority, s.node, new Date(s.since * 1000).toISOString().slice(11, 19), b]); }));
  fill("nodes", snap.nodes.map((n) => row([n.node + (n.self ? " (this node)" : ""), n.up ? "up" : "down"])));
  fill("hooks", snap.hooks.map((h) => row([h.hook, h.host, h.handlers.map((x) => x.seq + " " + x.name).join(", ")])));
  $("status").textContent = "live, updated " + new Date(snap.at).toISOString().slice(11, 19);
}
async function stream() {
  for (;;) {
    try {
      const r = await fetch("/observer/events", { headers: { authorization: "Bearer " + token } });
      if (r.status === 401 || r.status === 403) { $("status").textContent = "token refused (" + r.status + ")"; $("login").hidden = false; return; }
      $("main").hidden = false; $("login").hidden = true;
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\\n\\n")) >= 0) {
          const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
          const data = chunk.split("\\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\\n");
          if (chunk.startsWith("event: snapshot") && data) render(JSON.parse(data));
        }
      }
    } catch (e) { $("status").textContent = "disconnected: " + e; }
    $("status").textContent = "reconnecting…";
    await new Promise((r) => setTimeout(r, 2000));
  }
}
$("login").addEventListener("submit", (e) => { e.preventDefault(); token = $("token").value; sessionStorage.setItem("otp-chat-token", token); void stream(); });
if (token) { sessionStorage.setItem("otp-chat-token", token); void stream(); } else { $("login").hidden = false; $("status").textContent = "token needed"; }
</script></body></html>
`;
