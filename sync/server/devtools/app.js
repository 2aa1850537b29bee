// plasma devtools: polls the snapshot API and renders it; the buttons
// post commands. Every message carries the "plasma-devtools" source.
// Data is only ever written with textContent: ids come from clients.
"use strict";

const SOURCE = "plasma-devtools";
const base = location.pathname.replace(/\/+$/, "");
// The page's query string (an admin token, say) goes with every call.
const query = location.search;
const api = (name) => base + "/api/" + name + query;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) {
    tr.append(c instanceof Node ? wrap(c) : el("td", c));
  }
  return tr;
}

function wrap(node) {
  if (node.tagName === "TD") return node;
  const td = el("td");
  td.append(node);
  return td;
}

function fill(id, rows, empty, cols) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const td = el("td", empty, "empty");
    td.colSpan = cols;
    const tr = el("tr");
    tr.append(td);
    body.append(tr);
  }
}

function when(t) {
  if (!t) return "—";
  return new Date(t).toLocaleTimeString(); // Unix ms or an RFC 3339 string
}

function isDevtoolsMessage(m) {
  return m !== null && typeof m === "object" && m.source === SOURCE;
}

async function call(url, init) {
  const resp = await fetch(url, Object.assign({ credentials: "same-origin", cache: "no-store" }, init));
  const body = await resp.json();
  if (!isDevtoolsMessage(body)) throw new Error("not a plasma-devtools message");
  if (body.type === "error") throw new Error(body.error + (body.message ? ": " + body.message : ""));
  return body;
}

async function command(name, group) {
  const out = document.getElementById("action-result");
  try {
    const r = await call(api("command"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ source: SOURCE, type: "command", command: name, clientGroupID: group }),
    });
    let msg = name + " " + group + ": done";
    if (name === "reset") msg += " (" + r.viewsDropped + " view records dropped" + (r.poked ? ", poked" : "") + ")";
    if (name === "disconnect") msg += " (" + r.disconnected + " connections closed)";
    out.className = "";
    out.textContent = msg;
  } catch (e) {
    out.className = "failed";
    out.textContent = name + " " + group + ": " + e.message;
  }
  refresh();
}

function actions(group) {
  const td = el("td");
  for (const [name, label, cls] of [["poke", "Poke", ""], ["reset", "Drop view", "danger"], ["disconnect", "Disconnect", "danger"]]) {
    const b = el("button", label, cls);
    b.dataset.action = name;
    b.addEventListener("click", () => command(name, group));
    td.append(b);
  }
  return td;
}

function render(s) {
  document.getElementById("groups-note").textContent =
    s.groups.length + (s.groupsTruncated ? "+ (most recent first)" : "") + " · schema " + s.schemaVersion;
  fill("groups", s.groups.map((g) => {
    const clients = el("td", null, "clients");
    clients.textContent = g.clients.map((c) => c.id + " = " + c.lastMutationID).join(", ") || "—";
    const tr = row([el("code", g.id), g.userID, clients, when(g.lastPush), when(g.lastPull), when(g.seenAt),
      g.views + " (" + g.viewRows + " rows)", actions(g.id)]);
    tr.dataset.group = g.id;
    return tr;
  }), "no client groups yet", 8);

  document.getElementById("heads").textContent =
    "heads: " + Object.entries(s.heads).map(([r, v]) => r + " " + v).join(", ");
  fill("changes", s.changes.map((c) =>
    row([c.version, c.region, c.table, el("code", c.rowID), c.op, c.clientID ? c.clientID + " / " + c.mutationID : "—"])),
    "the change log is empty", 6);

  const rt = s.realtime;
  document.getElementById("realtime-note").textContent = rt
    ? rt.connections.length + (rt.connectionsTruncated ? "+" : "") + " WebSocket connections, " + rt.rooms.length + " rooms"
    : "no realtime hub: the handler's Notifier cannot be inspected";
  fill("connections", rt ? rt.connections.map((c) => row([c.userID, el("code", c.clientGroupID), el("code", c.clientID), c.room])) : [],
    "no connections", 4);
  fill("rooms", rt ? rt.rooms.map((r) => row([r.name, r.members])) : [], "no rooms", 2);

  const kinds = document.getElementById("error-kinds");
  kinds.replaceChildren(...Object.entries(s.errors.byKind).map(([k, n]) => el("span", k + " × " + n, "kind")));
  if (kinds.childElementCount === 0) kinds.textContent = "no errors since the server started";
  fill("errors", s.errors.recent.map((e) =>
    row([when(e.at), e.kind, e.status, e.endpoint || "", e.userID || "", e.clientGroupID || "", e.mutator || "", e.message || ""])),
    "none", 8);
}

let timer = null;
async function refresh() {
  const status = document.getElementById("status");
  try {
    const s = await call(api("snapshot"));
    if (s.type !== "snapshot") throw new Error("unexpected message type " + s.type);
    render(s);
    status.textContent = "updated " + when(s.at);
    document.body.dataset.loaded = "true";
  } catch (e) {
    status.textContent = "error: " + e.message;
  }
}

function schedule() {
  clearInterval(timer);
  if (document.getElementById("live").checked) timer = setInterval(refresh, 2000);
}

document.getElementById("live").addEventListener("change", schedule);
refresh();
schedule();
