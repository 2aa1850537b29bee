// A todo page on the replicache npm client, synced by plasma demo
// (examples/todo served by cmd/plasma). Replicache keeps the user's data
// in the browser (IndexedDB), applies each change at once through the
// mutators in mutators.js, pushes it to the server and pulls what others
// changed; plasma's WebSocket pokes the page to pull right after a commit
// it may read. Rows are shown with textContent only: they are anyone's
// input.
import {Replicache, version} from 'replicache';
import {makeMutators, memberID} from './mutators.js';

// SCHEMA_VERSION must equal the server's (todo.SchemaVersion); a server
// that moved on answers VersionNotSupported and the page asks for a reload.
const SCHEMA_VERSION = '1';
// The sync endpoints: plasma demo serves this page (-web) on the same
// origin, so no CORS is involved.
const SYNC = new URL('/sync/', location.href);

const $ = id => document.getElementById(id);
document.documentElement.dataset.replicache = version;

// signIn asks for a user id and reloads the page with it in the URL, so
// that each user (and each browser tab) can be bookmarked.
function signIn() {
  $('signin').hidden = false;
  setStatus('signed-out', 'Not signed in');
  $('signin').addEventListener('submit', e => {
    e.preventDefault();
    const u = $('signin-user').value.trim();
    if (u) location.search = new URLSearchParams({user: u}).toString();
  });
}

function start(user) {
  $('app').hidden = false;
  $('me').textContent = user;
  const rep = new Replicache({
    // One local database per user: switching user never mixes their data.
    name: `plasma-todo-${user}`,
    schemaVersion: SCHEMA_VERSION,
    pushURL: new URL('push', SYNC).href,
    pullURL: new URL('pull', SYNC).href,
    // plasma demo's stand-in for authentication (see its page at /).
    auth: `Bearer ${user}`,
    mutators: makeMutators(user),
    logLevel: 'error',
  });
  const sync = {online: true, live: false, outdated: false};
  rep.onOnlineChange = online => {
    sync.online = online;
    showSync(rep, sync);
  };
  rep.onUpdateNeeded = () => {
    sync.outdated = true;
    showSync(rep, sync);
  };

  rep.subscribe(
    async tx => {
      const [lists, members, todos] = await Promise.all(
        ['lists/', 'members/', 'todos/'].map(prefix => tx.scan({prefix}).values().toArray()),
      );
      return {lists, members, todos};
    },
    {onData: data => render(user, data)},
  );
  wireEvents(rep, user);
  listen(rep, user, sync);
  // Pending mutations drain when a pull confirms them; poll the count so
  // the status line says whether everything reached the server.
  setInterval(() => showSync(rep, sync), 250);
}

// listen keeps a WebSocket open to plasma's poke endpoint and pulls on
// every poke. Replicache also pulls every 60 s by itself, so a page whose
// socket is down still catches up.
async function listen(rep, user, sync, retry = 500) {
  const url = new URL('ws', SYNC);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = new URLSearchParams({
    clientGroupID: await rep.clientGroupID,
    clientID: rep.clientID,
    // Browsers cannot set headers on a WebSocket: the credentials go in
    // the query, as the realtime hub allows.
    auth: `Bearer ${user}`,
  }).toString();
  const ws = new WebSocket(url);
  ws.onopen = () => {
    sync.live = true;
    retry = 500;
    showSync(rep, sync);
  };
  ws.onmessage = ev => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (msg.type === 'poke') rep.pull();
  };
  ws.onclose = () => {
    sync.live = false;
    showSync(rep, sync);
    setTimeout(() => listen(rep, user, sync, Math.min(retry * 2, 30_000)), retry);
  };
}

async function showSync(rep, sync) {
  const pending = (await rep.experimentalPendingMutations()).length;
  const live = sync.live ? 'live' : 'not live (reconnecting)';
  if (sync.outdated) {
    setStatus('outdated', 'The server runs a newer version of this app: reload the page.');
  } else if (!sync.online) {
    setStatus('offline', `Offline: ${pending} change(s) kept here, sent when the server answers again`);
  } else if (pending > 0) {
    setStatus('pending', `${pending} change(s) not yet synced · ${live}`);
  } else {
    setStatus('synced', `All changes synced · ${live}`);
  }
  $('status').dataset.live = String(sync.live);
}

function setStatus(state, text) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text;
}

// newID makes ids that sort by creation time (then at random), so todos
// keep their order on every client.
function newID(prefix) {
  const rnd = [...crypto.getRandomValues(new Uint8Array(6))].map(b => b.toString(16).padStart(2, '0')).join('');
  return `${prefix}-${Date.now().toString(36).padStart(9, '0')}-${rnd}`;
}

// wireEvents handles the page's forms and buttons by delegation, so that
// render can rebuild rows without re-attaching handlers.
function wireEvents(rep, user) {
  $('new-list').addEventListener('submit', e => {
    e.preventDefault();
    const name = $('new-list-name').value.trim();
    if (!name) return;
    $('new-list-name').value = '';
    rep.mutate.createList({id: newID('l'), name});
  });
  const lists = $('lists');
  lists.addEventListener('submit', async e => {
    e.preventDefault();
    const form = e.target;
    const listID = form.closest('[data-list-id]').dataset.listId;
    const input = form.elements[0];
    const value = input.value.trim();
    if (!value) return;
    input.value = '';
    if (form.classList.contains('new-todo')) {
      rep.mutate.createTodo({id: newID('t'), listID, title: value});
    } else if (form.classList.contains('share')) {
      rep.mutate.addMember({id: await memberID(listID, value), listID, userID: value});
    }
  });
  lists.addEventListener('change', e => {
    const todo = e.target.closest('[data-todo-id]');
    if (todo && e.target.type === 'checkbox') rep.mutate.updateTodo({id: todo.dataset.todoId, done: e.target.checked});
  });
  lists.addEventListener('click', e => {
    const b = e.target.closest('button[data-action]');
    if (!b) return;
    const listID = b.closest('[data-list-id]').dataset.listId;
    if (b.dataset.action === 'delete') rep.mutate.deleteTodo({id: b.closest('[data-todo-id]').dataset.todoId});
    if (b.dataset.action === 'unshare') rep.mutate.removeMember({listID, userID: b.dataset.user});
  });
}

// ---------------------------------------------------------------------------
// Rendering. Each list keeps its section element across renders, so that
// a change arriving from elsewhere does not take away what the user is
// typing in that list's forms.

const sections = new Map(); // list id -> {root, name, owner, todos, members, share}

function render(user, {lists, members, todos}) {
  lists.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const box = $('lists');
  const seen = new Set();
  for (const l of lists) {
    seen.add(l.id);
    const s = sections.get(l.id) ?? newSection(l.id);
    sections.set(l.id, s);
    s.name.textContent = l.name;
    s.owner.textContent = l.owner_id === user ? 'yours' : `shared by ${l.owner_id}`;
    s.share.hidden = l.owner_id !== user;
    renderTodos(s.todos, todos.filter(t => t.list_id === l.id));
    renderMembers(s.members, l, members.filter(m => m.list_id === l.id), user);
  }
  for (const [id, s] of sections) {
    if (!seen.has(id)) {
      s.root.remove();
      sections.delete(id);
    }
  }
  // Re-append only when the order changed: moving an element blurs it.
  const want = lists.map(l => sections.get(l.id).root);
  if (want.some((el, i) => box.children[i] !== el)) box.replaceChildren(...want);
  $('empty').hidden = lists.length > 0;
}

function newSection(listID) {
  const root = el('section', {className: 'list', dataset: {listId: listID}});
  const name = el('span', {className: 'name'});
  const owner = el('small', {className: 'muted owner'});
  const todos = el('ul', {className: 'todos'});
  const addTodo = el('form', {className: 'new-todo'}, [
    el('input', {name: 'title', placeholder: 'New todo', ariaLabel: 'New todo', required: true, maxLength: 500}),
    el('button', {textContent: 'Add'}),
  ]);
  const members = el('p', {className: 'members muted'});
  const share = el('form', {className: 'share'}, [
    el('input', {name: 'user', placeholder: 'user id', ariaLabel: 'Share with user id', required: true, maxLength: 128}),
    el('button', {textContent: 'Share'}),
  ]);
  root.append(el('h2', {}, [name, ' ', owner]), todos, addTodo, members, share);
  return {root, name, owner, todos, members, share};
}

function renderTodos(ul, todos) {
  todos.sort((a, b) => a.id.localeCompare(b.id));
  ul.replaceChildren(
    ...todos.map(t =>
      el('li', {className: t.done ? 'done' : '', dataset: {todoId: t.id}}, [
        el('label', {}, [el('input', {type: 'checkbox', checked: t.done}), ' ', el('span', {className: 'title', textContent: t.title})]),
        ' ',
        el('small', {className: 'muted', textContent: `by ${t.created_by}`}),
        ' ',
        el('button', {type: 'button', textContent: '×', title: 'Delete', ariaLabel: `Delete ${t.title}`, dataset: {action: 'delete'}}),
      ]),
    ),
  );
}

function renderMembers(p, list, members, user) {
  const others = members.filter(m => m.user_id !== list.owner_id).sort((a, b) => a.user_id.localeCompare(b.user_id));
  if (others.length === 0) {
    p.replaceChildren('Not shared with anyone yet.');
    return;
  }
  const parts = ['Shared with: '];
  for (const m of others) {
    parts.push(el('span', {className: 'member', textContent: m.user_id}));
    if (list.owner_id === user) {
      parts.push(' ', el('button', {type: 'button', textContent: 'remove', dataset: {action: 'unshare', user: m.user_id}}));
    }
    parts.push(' ');
  }
  p.replaceChildren(...parts);
}

// el makes an element with properties (dataset merged) and children.
function el(tag, props = {}, children = []) {
  const {dataset, ...rest} = props;
  const e = Object.assign(document.createElement(tag), rest);
  Object.assign(e.dataset, dataset ?? {});
  e.append(...children);
  return e;
}

// The page acts for the user named in its URL (?user=ann).
const user = new URLSearchParams(location.search).get('user')?.trim();
if (user) {
  start(user);
} else {
  signIn();
}
