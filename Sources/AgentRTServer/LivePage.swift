import HTTPTypes
import Hummingbird

/// `GET /`: a live page, one static HTML file with plain JS (no build step). Paste a token (kept
/// in memory only), watch the user's events run by run (tool calls nested under their run,
/// failures in red), start a run of any agent with JSON input, cancel it, and see the stream
/// resume from the last seq after a reconnect.
enum LivePage {
    static func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/") { _, _ in
            var headers: HTTPFields = [:]
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.cacheControl] = "no-store"
            headers[HTTPField.Name("Content-Security-Policy")!] = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
        }
    }

    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentrt live</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;max-width:70em}
input,select,textarea,button{font:inherit}
textarea{width:100%;height:4em;font-family:monospace}
.run{border:1px solid #ccc;border-radius:6px;margin:.6em 0;padding:.4em .7em}
.run h3{margin:.2em 0;font-size:1em}
.ev{font-family:monospace;font-size:12px;white-space:pre-wrap;margin:.1em 0}
.tool{margin-left:2em;color:#555}
.failed,.failed h3{color:#b00}
.done h3{color:#070}
#status{font-weight:bold}
</style></head>
<body>
<h1>agentrt live</h1>
<p><label>Token <input id="token" type="password" size="60" autocomplete="off"></label>
<button id="connect">Connect</button> <span id="status">disconnected</span> <span id="seq"></span></p>
<p><label>Agent <select id="agent"></select></label>
<label>Session <input id="session" size="12"></label>
<button id="run" disabled>Run</button></p>
<textarea id="input">{}</textarea>
<div id="runs"></div>
<script>
"use strict";
let token = null, ws = null, lastSeq = null, wanted = false, retry = 500;
const runs = new Map();
const $ = id => document.getElementById(id);
function status(s) { $("status").textContent = s; }
function runBox(id, agent) {
  let r = runs.get(id);
  if (r) return r;
  const box = document.createElement("div"); box.className = "run"; box.id = "run-" + id;
  const h = document.createElement("h3"); h.textContent = id + "  " + (agent || "");
  const cancel = document.createElement("button"); cancel.textContent = "Cancel"; cancel.className = "cancel";
  cancel.onclick = () => send({type: "cancel", run_id: id});
  h.append(" ", cancel); box.append(h);
  $("runs").prepend(box);
  r = {box, cancel}; runs.set(id, r); return r;
}
function line(box, text, cls) {
  const d = document.createElement("div"); d.className = "ev " + (cls || ""); d.textContent = text; box.append(d);
}
function onEvent(e) {
  if (typeof e.seq === "number" && e.type !== undefined && e.v === 1) {
    lastSeq = e.seq; $("seq").textContent = "seq " + e.seq;
    if (e.type === "stream_gap") { line($("runs"), "gap: events " + e.data.from_seq + "…" + e.data.to_seq + " are gone", "failed"); return; }
    if (!e.run_id) return;
    const root = e.parent_run_id || e.run_id;
    const r = runBox(root, e.agent ? e.agent.plugin + "." + e.agent.name : "");
    const tool = e.type.startsWith("tool_") || !!e.parent_run_id;
    line(r.box, "#" + e.seq + " " + e.type + " " + JSON.stringify(e.data), tool ? "tool" : "");
    if (!e.parent_run_id) {
      if (e.type === "agent_completed") { r.box.classList.add("done"); r.cancel.remove(); }
      if (e.type === "agent_failed" || e.type === "agent_cancelled") { r.box.classList.add("failed"); r.cancel.remove(); }
    }
    return;
  }
  if (e.type === "run_accepted") runBox(e.run_id, "");
  else if (e.type === "run_refused") line($("runs"), "refused: " + e.error.code + ": " + e.error.message, "failed");
  else if (e.type === "error") line($("runs"), "error: " + e.error.code + ": " + e.error.message, "failed");
}
function send(m) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(m)); }
function open() {
  const q = "access_token=" + encodeURIComponent(token) + (lastSeq !== null ? "&after_seq=" + lastSeq : "");
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/stream?" + q);
  status("connecting");
  ws.onopen = () => { status("connected"); retry = 500; $("run").disabled = false; };
  ws.onmessage = m => { try { onEvent(JSON.parse(m.data)); } catch (err) { console.error(err); } };
  ws.onclose = ev => {
    $("run").disabled = true;
    status("disconnected (" + ev.code + (ev.reason ? ": " + ev.reason : "") + ")");
    // Resume from the last seq seen (the server names it on a slow-consumer close too).
    const m = /after_seq=(\d+)/.exec(ev.reason || "");
    if (m) lastSeq = Number(m[1]);
    if (wanted) setTimeout(open, retry = Math.min(retry * 2, 8000));
  };
}
async function loadAgents() {
  const r = await fetch("/v1/agents", {headers: {Authorization: "Bearer " + token}});
  if (!r.ok) { status("token refused (" + r.status + ")"); return false; }
  const sel = $("agent"); sel.textContent = "";
  for (const a of (await r.json()).agents) { const o = document.createElement("option"); o.textContent = a.name; sel.append(o); }
  return true;
}
$("connect").onclick = async () => {
  token = $("token").value.trim(); $("token").value = "";   // kept in memory only
  if (!token) return;
  if (ws) { wanted = false; ws.close(); }
  if (await loadAgents()) { wanted = true; open(); }
};
$("run").onclick = () => {
  let input;
  try { input = JSON.parse($("input").value || "{}"); } catch (err) { line($("runs"), "input is not JSON: " + err, "failed"); return; }
  const m = {type: "run", agent: $("agent").value, input, request_id: String(Date.now())};
  if ($("session").value) m.session_id = $("session").value;
  send(m);
};
</script>
</body></html>
"""#
}
