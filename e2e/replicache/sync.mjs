// End-to-end test: the real, unmodified replicache@15.3.0 npm client against
// plasma's sync server running the todo demo (`plasma demo`).
//
//   PLASMA_URL=http://127.0.0.1:8787 node sync.mjs
//
// Environment:
//   PLASMA_URL         the demo server's origin (required)
//   PLASMA_SYNC_PATH   the sync base path (default /sync)
//   E2E_USER_SUFFIX    appended to the user ids ann, bob, carol, so that the
//                      script can run again against a server that keeps its
//                      data (the Go test uses a fresh data dir and no suffix)
//   E2E_VERBOSE=1      print every push/pull exchange as it happens
//
// Exits 0 when every check passed, 1 on the first mismatch (with a diff and
// the recent HTTP exchanges), 2 on a usage error.

// Replicache stores its data in IndexedDB; Node has none, so fake-indexeddb
// supplies an in-memory one. It must be installed before replicache loads.
import 'fake-indexeddb/auto';
import {Replicache, version as replicacheVersion} from 'replicache';
import {inspect} from 'node:util';
// The page's own client-side mutators (examples/web), which mirror the
// server's: names, arguments, keys and row shapes. Running them here keeps
// the page's optimistic writes checked against what the server sends back.
import {makeMutators, memberID} from '../../examples/web/mutators.js';

// ---------------------------------------------------------------------------
// Configuration.

const base = process.env.PLASMA_URL;
if (!base) {
  console.error('sync.mjs: set PLASMA_URL to the demo server, e.g. http://127.0.0.1:8787');
  process.exit(2);
}
const syncPath = process.env.PLASMA_SYNC_PATH ?? '/sync';
const pushURL = new URL(`${syncPath}/push`, base).href;
const pullURL = new URL(`${syncPath}/pull`, base).href;
const verbose = process.env.E2E_VERBOSE === '1';
const suffix = process.env.E2E_USER_SUFFIX ?? '';
const ANN = `ann${suffix}`;
const BOB = `bob${suffix}`;
const CAROL = `carol${suffix}`;
const STEP_TIMEOUT_MS = 10_000; // every wait polls against this deadline
const GLOBAL_TIMEOUT_MS = 120_000; // the whole script
const SCHEMA_VERSION = '1';

const watchdog = setTimeout(() => fail(`the whole scenario took longer than ${GLOBAL_TIMEOUT_MS} ms`), GLOBAL_TIMEOUT_MS);

// ---------------------------------------------------------------------------
// HTTP log: a fetch wrapper around Node's fetch. Replicache's default pusher
// and puller call the global fetch with a Request; the wrapper records the
// exact request and response bodies and hands the real response back, so the
// protocol is the real client's, untouched. With dupPushes set, every push is
// delivered twice (the first answer is discarded): at-least-once delivery.

const realFetch = globalThis.fetch;
const exchanges = []; // {n, who, endpoint, request, status, response}
const pushBodies = []; // successful push bodies, for the replay phase
let dupPushes = false;
let seq = 0;

globalThis.fetch = async (input, init) => {
  const req = new Request(input, init);
  const endpoint = new URL(req.url).pathname.endsWith('/push') ? 'push' : new URL(req.url).pathname.endsWith('/pull') ? 'pull' : req.url;
  const auth = req.headers.get('authorization') ?? '';
  const body = await req.clone().text();
  if (endpoint === 'push' && dupPushes) {
    const first = await realFetch(req.clone());
    record(auth, endpoint, body, first.status, await first.text(), 'duplicate delivery');
  }
  const resp = await realFetch(req);
  const text = await resp.clone().text();
  const ex = record(auth, endpoint, body, resp.status, text);
  if (endpoint === 'push' && resp.status === 200) {
    pushBodies.push({auth, body, n: ex.n});
  }
  return resp;
};

function record(auth, endpoint, request, status, response, note) {
  const ex = {n: ++seq, who: auth, endpoint, request, status, response, note};
  exchanges.push(ex);
  if (verbose) printExchange(ex);
  return ex;
}

function printExchange(ex) {
  console.log(`--- #${ex.n} ${ex.endpoint} (Authorization: ${JSON.stringify(ex.who)})${ex.note ? ' [' + ex.note + ']' : ''}`);
  console.log(`>>> ${ex.request}`);
  console.log(`<<< ${ex.status} ${ex.response}`);
}

// ---------------------------------------------------------------------------
// Failure reporting.

function fail(msg) {
  console.error(`\nFAIL: ${msg}`);
  const recent = exchanges.slice(-30);
  if (recent.length) {
    console.error(`\nlast ${recent.length} HTTP exchanges (of ${exchanges.length}):`);
    for (const ex of recent) {
      console.error(`--- #${ex.n} ${ex.endpoint} (Authorization: ${JSON.stringify(ex.who)})${ex.note ? ' [' + ex.note + ']' : ''}`);
      console.error(`>>> ${ex.request}`);
      console.error(`<<< ${ex.status} ${ex.response}`);
    }
  }
  if (replicacheErrors.length) {
    console.error('\nreplicache logged these errors:');
    for (const e of replicacheErrors) console.error(`  ${e}`);
  }
  process.exit(1);
}

let passed = 0;
function ok(msg) {
  passed++;
  console.log(`ok ${passed} - ${msg}`);
}

// ---------------------------------------------------------------------------
// The expected server state, a model of the demo's tables and read rules:
// a user reads a list, its members and its todos while a members row links
// the user to the list.

const model = {lists: new Map(), members: new Map(), todos: new Map()};

function expectedView(userID) {
  const visible = new Set();
  for (const m of model.members.values()) if (m.user_id === userID) visible.add(m.list_id);
  const out = {};
  for (const [id, l] of model.lists) if (visible.has(id)) out[`lists/${id}`] = l;
  for (const [id, m] of model.members) if (visible.has(m.list_id)) out[`members/${id}`] = m;
  for (const [id, t] of model.todos) if (visible.has(t.list_id)) out[`todos/${id}`] = t;
  return out;
}

// ---------------------------------------------------------------------------
// Clients.

const replicacheErrors = [];
let expect401 = false;
let allowNewClientGroup = false;
const newClientGroupNotices = [];
const lmidSeen = new Map(); // clientID -> highest lastMutationIDChanges seen in a 200 pull
const mutationsMade = new Map(); // clientID -> number of mutations the client made

function newClient(userID, {auth, newCode = false} = {}) {
  const mutators = makeMutators(userID);
  if (newCode) {
    // A newer version of the app's code: one more mutator, so Replicache
    // puts this client in a new client group.
    mutators.renameList = async (tx, {id, name}) => {
      const l = await tx.get(`lists/${id}`);
      if (l !== undefined) await tx.set(`lists/${id}`, {...l, name});
    };
  }
  const rep = new Replicache({
    name: `e2e-${userID}`,
    // 15.3.0 no longer checks a license key: the option is deprecated and
    // ignored, so none is passed.
    schemaVersion: SCHEMA_VERSION,
    pushURL,
    pullURL,
    auth: auth ?? `Bearer ${userID}`,
    mutators,
    pullInterval: null, // no background pulls: the scenario pulls explicitly
    pushDelay: 60_000, // no automatic pushes: the scenario pushes explicitly
    logLevel: 'error',
    logSinks: [
      {
        log(level, context, ...args) {
          const line = `[${userID}] ${level}: ${args.map(a => (typeof a === 'string' ? a : inspect(a, {depth: 4}))).join(' ')}`;
          // The 401s of the re-authentication step are expected; Replicache
          // logs them as errors all the same.
          if (expect401 && / 401: /.test(line)) {
            if (verbose) console.log(`    (expected) ${line}`);
            return;
          }
          // Replicache copies its memory state to IndexedDB in the
          // background; under load fake-indexeddb (Node's stand-in for the
          // browser's store) can auto-commit a transaction between two of
          // the copy's requests and throw InvalidStateError. That copy is
          // local storage only: it sends nothing to the server, and every
          // check here reads the client's memory state and the server's
          // answers. It is reported, not counted.
          if (/Error during persist/.test(line) && /InvalidStateError/.test(line)) {
            console.log(`    (local persistence, not counted) ${line}`);
            return;
          }
          replicacheErrors.push(line);
          console.error(line);
        },
      },
    ],
  });
  rep.onUpdateNeeded = reason => {
    // Older tabs are told when newer code starts a new client group; any
    // other reason (VersionNotSupported) is a failure.
    if (reason?.type === 'NewClientGroup' && allowNewClientGroup) {
      newClientGroupNotices.push(userID);
      return;
    }
    fail(`${userID}: replicache called onUpdateNeeded(${JSON.stringify(reason)})`);
  };
  rep.onClientStateNotFound = () => fail(`${userID}: replicache called onClientStateNotFound`);
  const c = {userID, rep, mutate: {}};
  // Count every mutation, to compare with the server's lastMutationID.
  for (const name of Object.keys(makeMutators(userID))) {
    c.mutate[name] = async args => {
      mutationsMade.set(rep.clientID, (mutationsMade.get(rep.clientID) ?? 0) + 1);
      return rep.mutate[name](args);
    };
  }
  return c;
}

// ---------------------------------------------------------------------------
// Checks.

function withTimeout(p, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    }),
  ]);
}

async function view(c) {
  const entries = await c.rep.query(tx => tx.scan().entries().toArray());
  return Object.fromEntries(entries);
}

function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map(k => [k, canon(v[k])]));
  }
  return v;
}

// diff returns '' when got equals want (keys and values), else a readable
// description of every difference.
function diff(got, want) {
  const lines = [];
  const keys = [...new Set([...Object.keys(got), ...Object.keys(want)])].sort();
  for (const k of keys) {
    const g = k in got ? JSON.stringify(canon(got[k])) : undefined;
    const w = k in want ? JSON.stringify(canon(want[k])) : undefined;
    if (g === w) continue;
    if (g === undefined) lines.push(`  missing  ${k}: want ${w}`);
    else if (w === undefined) lines.push(`  extra    ${k}: got ${g}`);
    else lines.push(`  differs  ${k}:\n      got  ${g}\n      want ${w}`);
  }
  return lines.join('\n');
}

async function pending(c) {
  return c.rep.experimentalPendingMutations();
}

// expectLocal checks a client's local view without syncing (optimistic state).
async function expectLocal(c, want, what) {
  const d = diff(await view(c), want);
  if (d) fail(`${what}: ${c.userID}'s local view differs from the expected one:\n${d}`);
  ok(what);
}

// sync pushes and pulls each client, repeating until each one's view equals
// its expected view and its pending mutations are drained (the server's
// lastMutationID confirmed them), or the deadline passes.
async function sync(clients, what, wantFor = c => expectedView(c.userID)) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let problems = '';
  for (let round = 0; ; round++) {
    problems = '';
    for (const c of clients) {
      try {
        await withTimeout(c.rep.push({now: true}), `${c.userID} push`);
        await withTimeout(c.rep.pull({now: true}), `${c.userID} pull`);
      } catch (e) {
        problems += `\n${c.userID}: sync error: ${e?.stack ?? e}`;
        continue;
      }
      const d = diff(await view(c), wantFor(c));
      if (d) problems += `\n${c.userID}'s view differs from the expected one:\n${d}`;
      const p = await pending(c);
      if (p.length) problems += `\n${c.userID} still has ${p.length} pending mutations: ${JSON.stringify(p)}`;
    }
    if (!problems) break;
    if (Date.now() > deadline) fail(`${what}: not converged after ${STEP_TIMEOUT_MS} ms (${round + 1} rounds):${problems}`);
    await new Promise(r => setTimeout(r, 100));
  }
  ok(what);
}

// post sends a raw protocol request (the replay phase), through the logging
// wrapper.
async function post(endpoint, auth, body) {
  const resp = await withTimeout(
    globalThis.fetch(endpoint === 'push' ? pushURL : pullURL, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', Authorization: auth, 'X-Replicache-RequestID': 'e2e-replay-0'},
      body,
    }),
    `raw ${endpoint}`,
  );
  return {status: resp.status, text: await resp.text()};
}

// Record the lastMutationIDChanges of every successful pull (from the log).
function scanLMIDs() {
  for (const ex of exchanges) {
    if (ex.endpoint !== 'pull' || ex.status !== 200) continue;
    let r;
    try {
      r = JSON.parse(ex.response);
    } catch {
      fail(`pull #${ex.n} answered 200 with a body that is not JSON: ${ex.response}`);
    }
    for (const [cid, n] of Object.entries(r.lastMutationIDChanges ?? {})) {
      if (n > (lmidSeen.get(cid) ?? 0)) lmidSeen.set(cid, n);
    }
  }
}

// ---------------------------------------------------------------------------
// The scenario.

const run = Math.random().toString(36).slice(2, 8);
const id = s => `${s}-${run}`;
const L1 = id('groceries');
const L2 = id('ann-private');
const L3 = id('bob-own');
const L4 = id('carol-own');

async function putList(lid, name, owner) {
  model.lists.set(lid, {id: lid, name, owner_id: owner});
  const mid = await memberID(lid, owner);
  model.members.set(mid, {id: mid, list_id: lid, user_id: owner});
}
function putTodo(tid, lid, title, by) {
  model.todos.set(tid, {id: tid, list_id: lid, title, done: false, created_by: by});
}

async function main() {
  console.log(`replicache ${replicacheVersion} against ${pushURL} and ${pullURL}`);
  if (replicacheVersion !== '15.3.0') fail(`expected replicache 15.3.0, loaded ${replicacheVersion}`);
  const ann = newClient(ANN);
  const bob = newClient(BOB);
  const tabs = [ann, bob]; // every client, for the final checks

  // 1. Fresh clients pull an empty view.
  await sync([ann, bob], 'fresh clients pull and see nothing');

  // 2. Ann creates a shared list with three todos, a private list with one,
  //    and adds Bob to the shared one.
  await ann.mutate.createList({id: L1, name: 'Groceries'});
  await ann.mutate.createTodo({id: id('t1'), listID: L1, title: 'milk'});
  await ann.mutate.createTodo({id: id('t2'), listID: L1, title: 'eggs'});
  await ann.mutate.createTodo({id: id('t3'), listID: L1, title: 'bread'});
  await ann.mutate.createList({id: L2, name: 'Ann only'});
  await ann.mutate.createTodo({id: id('t5'), listID: L2, title: 'secret'});
  await ann.mutate.addMember({id: id('m-bob'), listID: L1, userID: BOB});
  await putList(L1, 'Groceries', ANN);
  putTodo(id('t1'), L1, 'milk', ANN);
  putTodo(id('t2'), L1, 'eggs', ANN);
  putTodo(id('t3'), L1, 'bread', ANN);
  await putList(L2, 'Ann only', ANN);
  putTodo(id('t5'), L2, 'secret', ANN);
  model.members.set(id('m-bob'), {id: id('m-bob'), list_id: L1, user_id: BOB});
  await expectLocal(ann, expectedView(ANN), 'ann sees her 7 mutations optimistically before any push');
  const p = await pending(ann);
  if (p.length !== 7 || p.some((m, i) => m.id !== i + 1 || m.clientID !== ann.rep.clientID)) {
    fail(`ann should have 7 pending mutations numbered 1..7, has ${JSON.stringify(p)}`);
  }
  ok('ann has 7 pending mutations, ids 1..7');
  await sync([ann], 'ann pushes; her pull confirms all 7 (pending drained) and returns the same rows');

  // 3. Bob pulls: the shared list, its members and todos; not Ann's private list.
  await sync([bob], 'bob pulls the shared list, its members and todos, and not ann\'s private list');

  // 4. Bob adds a todo, each push delivered twice; Ann pulls it.
  dupPushes = true;
  await bob.mutate.createTodo({id: id('t4'), listID: L1, title: 'butter'});
  putTodo(id('t4'), L1, 'butter', BOB);
  await expectLocal(bob, expectedView(BOB), 'bob sees his todo optimistically');
  await sync([bob], 'bob\'s todo is confirmed (every push delivered twice)');
  dupPushes = false;
  await sync([ann], 'ann pulls bob\'s todo');

  // 5. Ann updates and deletes todos; Bob pulls the changes.
  await ann.mutate.updateTodo({id: id('t1'), done: true});
  await ann.mutate.updateTodo({id: id('t2'), title: 'brown eggs'});
  await ann.mutate.updateTodo({id: id('t4'), title: 'salted butter', done: true});
  await ann.mutate.deleteTodo({id: id('t3')});
  model.todos.get(id('t1')).done = true;
  model.todos.get(id('t2')).title = 'brown eggs';
  Object.assign(model.todos.get(id('t4')), {title: 'salted butter', done: true});
  model.todos.delete(id('t3'));
  await expectLocal(ann, expectedView(ANN), 'ann sees her updates and delete optimistically');
  await sync([ann, bob], 'ann\'s updates and delete reach the server and bob');

  // 6. Ann opens a second tab: a second Replicache with the same name joins
  //    her client group with a new clientID, starts from the group's
  //    snapshot and cookie, and pulls. Both tabs then mutate; the group's
  //    pulls confirm both clients' mutations.
  const ann2 = newClient(ANN);
  if ((await ann2.rep.clientGroupID) !== (await ann.rep.clientGroupID) || ann2.rep.clientID === ann.rep.clientID) {
    fail('ann\'s second tab should share her client group under a new clientID');
  }
  await sync([ann2], 'ann\'s second tab (same client group, new clientID) pulls her view');
  await ann2.mutate.updateTodo({id: id('t2'), title: 'free-range eggs'});
  await ann.mutate.createTodo({id: id('t7'), listID: L1, title: 'jam'});
  model.todos.get(id('t2')).title = 'free-range eggs';
  putTodo(id('t7'), L1, 'jam', ANN);
  await sync([ann, ann2, bob], 'mutations of two tabs of one client group are both confirmed and reach bob');
  tabs.push(ann2);

  // 7. Ann loads newer code (one more mutator): Replicache starts a new
  //    client group for it, forked from her old group's snapshot and cookie.
  //    The server sees a cookie it issued to another group; its answer must
  //    still order after it (else Replicache throws), and the view must be
  //    complete.
  await new Promise(r => setTimeout(r, 1500)); // let Replicache persist the old group
  allowNewClientGroup = true;
  const ann3 = newClient(ANN, {newCode: true});
  const g3 = await ann3.rep.clientGroupID;
  if (g3 === (await ann.rep.clientGroupID)) fail('newer code should get a new client group');
  await sync([ann3], 'ann\'s newer code (a new client group) pulls her view');
  const firstPull3 = exchanges.find(ex => ex.endpoint === 'pull' && JSON.parse(ex.request).clientGroupID === g3);
  const forkCookie = JSON.parse(firstPull3.request).cookie;
  console.log(`    (the new group's first pull sent cookie ${JSON.stringify(forkCookie)}, answered ${JSON.stringify(JSON.parse(firstPull3.response).cookie)})`);
  await ann3.mutate.createTodo({id: id('t8'), listID: L1, title: 'honey'});
  putTodo(id('t8'), L1, 'honey', ANN);
  await sync([ann3, ann, ann2, bob], 'the new group\'s mutation is confirmed and reaches the old group and bob');
  tabs.push(ann3);
  allowNewClientGroup = false;
  console.log(`    (onUpdateNeeded NewClientGroup told to the older tabs: ${newClientGroupNotices.join(', ') || 'none'})`);

  // 8. Ann removes Bob: his next pull deletes the list, its members and all
  //    its todos, his own included. Permissions follow the data.
  const bobBefore = Object.keys(await view(bob)).length;
  await ann.mutate.removeMember({listID: L1, userID: BOB});
  model.members.delete(id('m-bob'));
  await sync([ann], 'ann removes bob from the shared list');
  await sync([bob], `bob's next pull deletes the list he left (${bobBefore} keys -> 0)`);
  if (Object.keys(await view(bob)).length !== 0) fail('bob should see nothing now');

  // 9. Bob, no longer a member, adds a todo to the list: his client applies
  //    it optimistically, the server refuses it for good, counts it as
  //    processed, and the next pull rolls it back.
  await bob.mutate.createTodo({id: id('t6'), listID: L1, title: 'sneaky'});
  const sneaky = await view(bob);
  if (!(`todos/${id('t6')}` in sneaky)) fail(`bob's optimistic todo is missing: ${JSON.stringify(sneaky)}`);
  ok('bob sees his refused todo optimistically');
  await sync([ann, bob], 'the server refuses bob\'s todo; his pending mutation drains and the todo vanishes');

  // 10. Another identity cannot push into Bob's client group. Ann forges a
  //     push under Bob's group and client with the next mutation id; it must
  //     not be applied, and must not use up Bob's mutation id.
  scanLMIDs();
  const bobGroup = await bob.rep.clientGroupID;
  const bobNext = (lmidSeen.get(bob.rep.clientID) ?? 0) + 1;
  const forged = JSON.stringify({
    pushVersion: 1,
    schemaVersion: SCHEMA_VERSION,
    profileID: await bob.rep.profileID,
    clientGroupID: bobGroup,
    mutations: [{clientID: bob.rep.clientID, id: bobNext, name: 'createList', args: {id: id('forged'), name: 'forged'}, timestamp: 1}],
  });
  const fr = await post('push', `Bearer ${ANN}`, forged);
  console.log(`    (ann's push into bob's client group answered ${fr.status} ${fr.text})`);
  if (fr.status === 200) fail(`a push by ${ANN} into ${BOB}'s client group was accepted (200 ${fr.text}); it must be refused`);
  ok(`a push by ann into bob's client group is refused (${fr.status})`);
  await bob.mutate.createList({id: L3, name: 'Bob alone'});
  await putList(L3, 'Bob alone', BOB);
  await sync([ann, bob], 'bob\'s next mutation (same id as the forged one) is applied; ann does not see his list');

  // 11. A client whose first requests are unauthorized gets new auth from
  //     getAuth (the 401 path) and then syncs; it sees only its own data.
  expect401 = true;
  const carol = newClient(CAROL, {auth: ''});
  let asked = 0;
  carol.rep.getAuth = () => {
    asked++;
    return `Bearer ${CAROL}`;
  };
  await carol.mutate.createList({id: L4, name: 'Carol alone'});
  await putList(L4, 'Carol alone', CAROL);
  tabs.push(carol);
  await sync([carol], 'carol (no auth at first) gets a 401, re-authenticates through getAuth, and syncs');
  expect401 = false;
  if (asked === 0) fail('carol never got a 401: getAuth was not called');
  if (!exchanges.some(ex => ex.who === '' && ex.status === 401)) fail('no request without auth was answered 401');
  ok(`a request without Authorization is answered 401 and getAuth was called (${asked}x)`);
  await sync(tabs, 'nobody sees another user\'s private list');

  // 12. A request for another schema version is refused with 409 and
  //     VersionNotSupported (PROTOCOL.md). (Replicache only acts on that body
  //     in a 200; on a 409 it backs off and keeps its mutations.)
  {
    const body = JSON.stringify({pullVersion: 1, schemaVersion: '2', profileID: await ann.rep.profileID, clientGroupID: await ann.rep.clientGroupID, cookie: null});
    const r = await post('pull', `Bearer ${ANN}`, body);
    let parsed;
    try {
      parsed = JSON.parse(r.text);
    } catch {}
    if (r.status !== 409 || parsed?.error !== 'VersionNotSupported' || parsed?.versionType !== 'schema') {
      fail(`a pull with schemaVersion "2" answered ${r.status} ${r.text}; want 409 {"error":"VersionNotSupported","versionType":"schema"}`);
    }
    ok('a pull for schema version "2" is answered 409 VersionNotSupported/schema');
  }

  // 13. Replays: every push the real clients made, sent again verbatim in a
  //     fresh request. All were processed already, so nothing may change:
  //     deleted todos stay deleted, updates stay, bob stays removed.
  const replays = pushBodies.filter(p => p.auth !== '');
  for (const pb of replays) {
    const r = await post('push', pb.auth, pb.body);
    if (r.status !== 200) fail(`replaying push #${pb.n} (${pb.auth}) answered ${r.status} ${r.text}; want 200`);
  }
  ok(`${replays.length} recorded pushes replayed verbatim, each answered 200`);
  await sync(tabs, 'after the replays every view is unchanged');

  // 14. lastMutationID: what the server confirmed equals what each client made.
  scanLMIDs();
  for (const c of tabs) {
    const made = mutationsMade.get(c.rep.clientID) ?? 0;
    const seen = lmidSeen.get(c.rep.clientID) ?? 0;
    if (made !== seen) fail(`${c.userID} made ${made} mutations but the server confirmed lastMutationID ${seen}`);
    const p = await pending(c);
    if (p.length) fail(`${c.userID} still has pending mutations: ${JSON.stringify(p)}`);
  }
  ok(`lastMutationIDChanges confirm every mutation: ${tabs.map(c => `${c.userID}/${c.rep.clientID} ${lmidSeen.get(c.rep.clientID)}`).join(', ')}`);

  // 15. Response hygiene seen across the run.
  for (const ex of exchanges) {
    if (ex.endpoint === 'pull' && ex.status === 200) {
      const r = JSON.parse(ex.response);
      if (r.lastMutationIDChanges === null || typeof r.lastMutationIDChanges !== 'object' || !Array.isArray(r.patch)) {
        fail(`pull #${ex.n}: lastMutationIDChanges must be an object and patch an array: ${ex.response}`);
      }
    }
  }
  ok(`${exchanges.filter(e => e.endpoint === 'pull').length} pulls and ${exchanges.filter(e => e.endpoint === 'push').length} pushes exchanged`);

  for (const c of tabs) await withTimeout(c.rep.close(), `${c.userID} close`);
  if (replicacheErrors.length) fail(`replicache logged ${replicacheErrors.length} errors during the run`);
  clearTimeout(watchdog);
  console.log(`\n${passed} passed, 0 failed`);
  process.exit(0);
}

main().catch(e => fail(`unexpected exception: ${e?.stack ?? e}`));
