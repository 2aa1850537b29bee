// End-to-end test of examples/web: the page, with the real replicache
// 15.3.0 client loaded from its npm package, in headless Chromium against
// `plasma demo -web examples/web`. It uses the page as a person would
// (forms, checkboxes, buttons) and checks what the server holds with plain
// pulls of its own.
//
//   PLASMA_URL=http://127.0.0.1:8787 PLASMA_CHROMIUM=/usr/bin/chromium node web.mjs
//
// Environment:
//   PLASMA_URL        the demo server's origin, started with -web examples/web (required)
//   PLASMA_CHROMIUM   the Chromium (or Chrome) executable (default /usr/bin/chromium)
//   E2E_USER_SUFFIX   appended to the user ids, to run again on kept data
//   E2E_SCREENSHOTS   a folder to save each page's screenshot in, at the end or on failure
//
// Exits 0 when every check passed, 1 on the first failure (with what each
// page showed and its console), 2 on a usage error.
import {chromium} from 'playwright-core';
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';

const base = process.env.PLASMA_URL;
if (!base) {
  console.error('web.mjs: set PLASMA_URL to a plasma demo started with -web examples/web, e.g. http://127.0.0.1:8787');
  process.exit(2);
}
const executablePath = process.env.PLASMA_CHROMIUM || '/usr/bin/chromium';
const suffix = process.env.E2E_USER_SUFFIX ?? '';
const shots = process.env.E2E_SCREENSHOTS;
const ANN = `ann${suffix}`;
const BOB = `bob${suffix}`;
const STEP_TIMEOUT_MS = 10_000; // every wait; the page's own fallback pull is every 60 s
const GLOBAL_TIMEOUT_MS = 150_000;
const SCHEMA_VERSION = '1';

const watchdog = setTimeout(() => fail(`the whole scenario took longer than ${GLOBAL_TIMEOUT_MS} ms`), GLOBAL_TIMEOUT_MS);
const pages = []; // {who, page, console: []}
let browser;

// ---------------------------------------------------------------------------
// Reporting.

let passed = 0;
function ok(msg) {
  passed++;
  console.log(`ok ${passed} - ${msg}`);
}

let failing = false;
async function fail(msg) {
  if (failing) return;
  failing = true;
  console.error(`\nFAIL: ${msg}`);
  for (const p of pages) {
    console.error(`\n--- ${p.who}'s page (${p.page.url()}):`);
    try {
      console.error(`status: ${await p.page.locator('#status').textContent({timeout: 2000})}`);
      console.error(`lists: ${JSON.stringify(await readLists(p.page), null, 1)}`);
    } catch (e) {
      console.error(`(could not read the page: ${e.message})`);
    }
    console.error(`console (${p.console.length} lines):\n  ${p.console.join('\n  ')}`);
  }
  await screenshots('failure');
  await browser?.close().catch(() => {});
  process.exit(1);
}

async function screenshots(tag) {
  if (!shots) return;
  mkdirSync(shots, {recursive: true});
  for (const p of pages) {
    const file = join(shots, `${tag}-${p.who}.png`);
    await p.page.screenshot({path: file, fullPage: true}).catch(e => console.error(`screenshot ${file}: ${e.message}`));
    console.log(`    (screenshot: ${file})`);
  }
}

// ---------------------------------------------------------------------------
// Reading the page and the server.

// readLists returns what a page shows: its lists in order, each with its
// todos and members, read from the DOM.
function readLists(page) {
  return page.$$eval('#lists > section', sections =>
    sections.map(s => ({
      name: s.querySelector('.name').textContent,
      owner: s.querySelector('.owner').textContent,
      todos: [...s.querySelectorAll('.todos li')].map(li => ({
        title: li.querySelector('.title').textContent,
        done: li.querySelector('input[type=checkbox]').checked,
        by: li.querySelector('small').textContent,
      })),
      members: [...s.querySelectorAll('.member')].map(m => m.textContent),
      canShare: !s.querySelector('form.share').hidden,
    })),
  );
}

// eventually polls check (which returns '' when satisfied, else why not)
// until it passes or STEP_TIMEOUT_MS runs out.
async function eventually(what, check) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let why = '';
  for (;;) {
    try {
      why = await check();
    } catch (e) {
      why = `error: ${e?.stack ?? e}`;
    }
    if (!why) break;
    if (Date.now() > deadline) await fail(`${what}: not within ${STEP_TIMEOUT_MS} ms: ${why}`);
    await new Promise(r => setTimeout(r, 100));
  }
  ok(what);
}

// shows checks that a page shows exactly these lists.
function shows(p, want) {
  return async () => {
    const got = await readLists(p.page);
    const a = JSON.stringify(got);
    const b = JSON.stringify(want);
    return a === b ? '' : `${p.who}'s page shows\n  ${a}\nwant\n  ${b}`;
  };
}

// synced checks that a page has nothing left to push and its poke
// socket is open.
function synced(p) {
  return async () => {
    const s = p.page.locator('#status');
    const state = await s.getAttribute('data-state');
    const live = await s.getAttribute('data-live');
    return state === 'synced' && live === 'true' ? '' : `${p.who}'s status is ${state} (live ${live}): ${await s.textContent()}`;
  };
}

let serverSeq = 0;
// serverView pulls from scratch as user, with a client group of its own,
// and returns the rows the server lets that user read, by key.
async function serverView(user) {
  const resp = await fetch(new URL('/sync/pull', base), {
    method: 'POST',
    headers: {'Content-Type': 'application/json', Authorization: `Bearer ${user}`},
    body: JSON.stringify({
      pullVersion: 1,
      schemaVersion: SCHEMA_VERSION,
      profileID: 'e2e-web',
      clientGroupID: `g-e2e-web-check-${user}-${run}-${++serverSeq}`,
      cookie: null,
    }),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await resp.text();
  if (resp.status !== 200) await fail(`pull as ${user}: ${resp.status} ${text}`);
  const rows = {};
  for (const op of JSON.parse(text).patch) {
    if (op.op === 'put') rows[op.key] = op.value;
  }
  return rows;
}

// serverLists turns a server view into what the page should show for user.
function serverLists(rows, user) {
  const vals = prefix => Object.entries(rows).filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  return vals('lists/')
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    .map(l => ({
      name: l.name,
      owner: l.owner_id === user ? 'yours' : `shared by ${l.owner_id}`,
      todos: vals('todos/')
        .filter(t => t.list_id === l.id)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map(t => ({title: t.title, done: t.done, by: `by ${t.created_by}`})),
      members: vals('members/')
        .filter(m => m.list_id === l.id && m.user_id !== l.owner_id)
        .map(m => m.user_id)
        .sort(),
      canShare: l.owner_id === user,
    }));
}

// A change by a client that is not a page: a raw push as user, in a
// client group of its own.
const raw = {group: '', next: 1};
async function rawPush(user, name, args) {
  raw.group ||= `g-e2e-web-raw-${user}-${run}`;
  const resp = await fetch(new URL('/sync/push', base), {
    method: 'POST',
    headers: {'Content-Type': 'application/json', Authorization: `Bearer ${user}`},
    body: JSON.stringify({
      pushVersion: 1,
      schemaVersion: SCHEMA_VERSION,
      profileID: 'e2e-web',
      clientGroupID: raw.group,
      mutations: [{clientID: `c-e2e-web-raw-${run}`, id: raw.next++, name, args, timestamp: Date.now()}],
    }),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  if (resp.status !== 200) await fail(`push ${name} as ${user}: ${resp.status} ${await resp.text()}`);
}

// ---------------------------------------------------------------------------
// Driving a page.

async function openPage(who, path) {
  const context = await browser.newContext(); // its own IndexedDB: another browser
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const p = {who, page, console: []};
  pages.push(p);
  page.on('console', m => p.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', e => p.console.push(`pageerror: ${e.stack ?? e}`));
  const resp = await page.goto(new URL(path, base).href);
  if (resp?.status() !== 200) await fail(`GET ${path}: ${resp?.status()}`);
  return p;
}

function section(p, listName) {
  return p.page.locator('#lists > section', {has: p.page.locator('.name', {hasText: listName})});
}

async function addTodo(p, listName, title) {
  const form = section(p, listName).locator('form.new-todo');
  await form.locator('input').fill(title);
  await form.locator('input').press('Enter');
}

function todoItem(p, listName, title) {
  return section(p, listName).locator('.todos li', {has: p.page.locator('.title', {hasText: title})});
}

// ---------------------------------------------------------------------------
// The scenario.

const run = Math.random().toString(36).slice(2, 8);

async function main() {
  browser = await chromium.launch({executablePath, headless: true, args: ['--disable-dev-shm-usage']});
  console.log(`${executablePath} ${browser.version()} against ${base}/web/`);

  // 1. Ann opens the page, signs in through its form, and the page loads
  //    replicache 15.3.0 from its npm package and goes live.
  const ann = await openPage(ANN, '/web/');
  await ann.page.locator('#signin-user').fill(ANN);
  await ann.page.locator('#signin button').click();
  await ann.page.waitForURL(u => new URL(u).searchParams.get('user') === ANN);
  const v = await ann.page.locator('html').getAttribute('data-replicache', {timeout: STEP_TIMEOUT_MS});
  if (v !== '15.3.0') await fail(`the page loaded replicache ${v}, want 15.3.0`);
  ok(`ann signs in through the page's form; the page runs replicache ${v}`);
  await eventually('ann\'s page is synced and live (its poke WebSocket is open)', synced(ann));
  await eventually('ann\'s page shows no lists', shows(ann, []));

  // 2. She creates a list and two todos with the page's forms: they show
  //    at once (optimistically), then reach the server.
  await ann.page.locator('#new-list-name').fill('Groceries');
  await ann.page.locator('#new-list-name').press('Enter');
  await addTodo(ann, 'Groceries', 'milk');
  await addTodo(ann, 'Groceries', 'eggs');
  const groceries = (todos, members = []) => [{name: 'Groceries', owner: 'yours', todos, members, canShare: true}];
  const milk = {title: 'milk', done: false, by: `by ${ANN}`};
  const eggs = {title: 'eggs', done: false, by: `by ${ANN}`};
  await eventually('ann\'s page shows her new list and its two todos', shows(ann, groceries([milk, eggs])));
  await eventually('ann\'s page pushed everything (no pending mutations)', synced(ann));
  await eventually('the server holds ann\'s list and todos, as her page shows them', async () => {
    const want = JSON.stringify(serverLists(await serverView(ANN), ANN));
    const got = JSON.stringify(await readLists(ann.page));
    return want === got ? '' : `server ${want}\npage   ${got}`;
  });

  // 3. She shares the list with Bob; the server lets Bob read it.
  const share = section(ann, 'Groceries').locator('form.share');
  await share.locator('input').fill(BOB);
  await share.locator('input').press('Enter');
  await eventually('ann shares the list with bob', shows(ann, groceries([milk, eggs], [BOB])));
  await eventually('the server lets bob read the shared list and its todos', async () => {
    const got = JSON.stringify(serverLists(await serverView(BOB), BOB));
    const want = JSON.stringify([{name: 'Groceries', owner: `shared by ${ANN}`, todos: [milk, eggs], members: [BOB], canShare: false}]);
    return got === want ? '' : `bob's pull ${got}\nwant ${want}`;
  });

  // 4. Bob opens the page in another browser (his own storage) and sees it.
  const bob = await openPage(BOB, `/web/?user=${encodeURIComponent(BOB)}`);
  const bobSees = (todos, members = [BOB]) => [{name: 'Groceries', owner: `shared by ${ANN}`, todos, members, canShare: false}];
  await eventually('bob\'s page shows the list ann shared, with her todos', shows(bob, bobSees([milk, eggs])));
  await eventually('bob\'s page is synced and live', synced(bob));

  // 5. Bob ticks milk and adds bread; ann's page shows both, pulled on
  //    the server's poke (the page's own fallback pull is every 60 s).
  await todoItem(bob, 'Groceries', 'milk').locator('input[type=checkbox]').check();
  await addTodo(bob, 'Groceries', 'bread');
  const milkDone = {...milk, done: true};
  const bread = {title: 'bread', done: false, by: `by ${BOB}`};
  await eventually('bob\'s page shows his changes at once', shows(bob, bobSees([milkDone, eggs, bread])));
  await eventually('ann\'s page shows bob\'s changes, pulled on a poke', shows(ann, groceries([milkDone, eggs, bread], [BOB])));

  // 6. A client that is not a page (a raw push as bob, in a client group of
  //    its own) adds a todo whose title is markup: both pages show it, as
  //    text (the page never parses rows as HTML).
  const listID = Object.values(await serverView(ANN)).find(r => r.name === 'Groceries')?.id;
  const hostile = '<img src=x onerror="window.__pwned=1">butter';
  await rawPush(BOB, 'createTodo', {id: `t-zzzz-${run}`, listID, title: hostile});
  const butter = {title: hostile, done: false, by: `by ${BOB}`};
  await eventually('a todo pushed by another client appears on ann\'s page', shows(ann, groceries([milkDone, eggs, bread, butter], [BOB])));
  await eventually('... and on bob\'s page', shows(bob, bobSees([milkDone, eggs, bread, butter])));
  for (const p of [ann, bob]) {
    if ((await p.page.evaluate(() => window.__pwned)) !== undefined || (await p.page.locator('#lists img').count()) !== 0) {
      await fail(`${p.who}'s page turned a todo's title into markup`);
    }
  }
  ok('a title that is markup shows as text on both pages');

  // 7. Ann deletes eggs; bob's page drops it.
  await todoItem(ann, 'Groceries', 'eggs').locator('button[data-action=delete]').click();
  await eventually('ann deletes eggs; her page drops it at once', shows(ann, groceries([milkDone, bread, butter], [BOB])));
  await eventually('bob\'s page drops eggs', shows(bob, bobSees([milkDone, bread, butter])));

  // 8. Ann reloads her page: the list is still there, and still synced.
  await ann.page.reload();
  await eventually('after a reload ann\'s page shows the same list', shows(ann, groceries([milkDone, bread, butter], [BOB])));
  await eventually('ann\'s reloaded page is synced and live', synced(ann));

  // 9. Ann stops sharing with Bob: his page loses the list (permissions
  //    follow the data).
  await section(ann, 'Groceries').locator('button[data-action=unshare]').click();
  await eventually('ann stops sharing the list with bob', shows(ann, groceries([milkDone, bread, butter])));
  await eventually('bob\'s page loses the list', shows(bob, []));
  await eventually('bob\'s page says he has no lists', async () => ((await bob.page.locator('#empty').isVisible()) ? '' : '#empty is hidden'));

  // 10. Both pages agree with the server, and logged no errors.
  await eventually('both pages are synced', async () => (await synced(ann)()) + (await synced(bob)()));
  for (const [p, user] of [[ann, ANN], [bob, BOB]]) {
    const want = JSON.stringify(serverLists(await serverView(user), user));
    const got = JSON.stringify(await readLists(p.page));
    if (want !== got) await fail(`${user}'s page and the server differ:\nserver ${want}\npage   ${got}`);
  }
  ok('each page shows exactly what the server lets its user read');
  const errors = pages.flatMap(p => p.console.filter(l => /^(error|pageerror)/.test(l)).map(l => `${p.who}: ${l}`));
  if (errors.length) await fail(`the pages logged ${errors.length} errors:\n  ${errors.join('\n  ')}`);
  ok('no page logged an error');

  await screenshots('end');
  await browser.close();
  clearTimeout(watchdog);
  console.log(`\n${passed} passed, 0 failed`);
  process.exit(0);
}

main().catch(e => fail(`unexpected exception: ${e?.stack ?? e}`));
