// End-to-end test of the sync server's devtools page in headless
// Chromium, against `plasma demo -devtools` (and a second demo started
// without it). Two users push; the page must list both client groups
// with the right lastMutationIDs; its Poke button must poke the group's
// WebSocket, its Drop view button must make the group's next pull a
// reset, its Disconnect button must close the group's WebSocket; a
// request without the admin token gets 403, and the demo without
// -devtools does not serve the page (404).
//
//   PLASMA_URL=http://127.0.0.1:8787 PLASMA_DEVTOOLS_TOKEN=… PLASMA_URL_OFF=http://127.0.0.1:8788 node devtools.mjs
//
// Environment:
//   PLASMA_URL              a plasma demo started with -devtools (required)
//   PLASMA_DEVTOOLS_TOKEN   the admin token it printed (required)
//   PLASMA_URL_OFF          a plasma demo started without -devtools (optional)
//   PLASMA_CHROMIUM         the Chromium executable (default /usr/bin/chromium)
//   E2E_SCREENSHOT          a PNG file to save the devtools page in, at the end
//
// Exits 0 when every check passed, 1 on the first failure, 2 on a usage
// error.
import {chromium} from 'playwright-core';

const base = process.env.PLASMA_URL;
const token = process.env.PLASMA_DEVTOOLS_TOKEN;
if (!base || !token) {
  console.error('devtools.mjs: set PLASMA_URL and PLASMA_DEVTOOLS_TOKEN (plasma demo -devtools prints both)');
  process.exit(2);
}
const off = process.env.PLASMA_URL_OFF;
const executablePath = process.env.PLASMA_CHROMIUM || '/usr/bin/chromium';
const shot = process.env.E2E_SCREENSHOT;
const STEP_TIMEOUT_MS = 10_000;
const SOURCE = 'plasma-devtools';

const watchdog = setTimeout(() => fail('the whole scenario took longer than 120 s'), 120_000);
let browser, devPage;
const consoleLines = [];

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
  console.error(`console:\n  ${consoleLines.join('\n  ')}`);
  if (devPage) {
    try {
      console.error(`devtools page status: ${await devPage.locator('#status').textContent({timeout: 2000})}`);
      console.error(`groups table: ${await devPage.locator('#groups').innerText({timeout: 2000})}`);
    } catch (e) {
      console.error(`(could not read the page: ${e.message})`);
    }
  }
  await browser?.close().catch(() => {});
  process.exit(1);
}

async function check(cond, msg) {
  if (!cond) await fail(msg);
  ok(msg);
}

async function eventually(msg, fn) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last === true) return ok(msg);
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) return fail(`${msg} (last: ${JSON.stringify(last)})`);
    await new Promise(r => setTimeout(r, 100));
  }
}

// The server side of the scenario, with plain requests.
const run = Date.now().toString(36);
const ANN = {user: `ann-${run}`, group: `g-ann-${run}`, client: `c-ann-${run}`, next: 1};
const BOB = {user: `bob-${run}`, group: `g-bob-${run}`, client: `c-bob-${run}`, next: 1};

async function post(path, who, body) {
  const resp = await fetch(new URL(path, base), {
    method: 'POST',
    headers: {'Content-Type': 'application/json', Authorization: `Bearer ${who.user}`},
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await resp.text();
  if (resp.status !== 200) await fail(`${path} as ${who.user}: ${resp.status} ${text}`);
  return JSON.parse(text);
}

async function push(who, name, args) {
  await post('/sync/push', who, {
    pushVersion: 1, schemaVersion: '1', profileID: 'e2e-devtools', clientGroupID: who.group,
    mutations: [{clientID: who.client, id: who.next++, name, args, timestamp: Date.now()}],
  });
}

async function pull(who, cookie) {
  return post('/sync/pull', who, {pullVersion: 1, schemaVersion: '1', profileID: 'e2e-devtools', clientGroupID: who.group, cookie});
}

function row(group) {
  return devPage.locator(`#groups tbody tr[data-group="${group}"]`);
}

async function main() {
  // Two users push: ann three mutations, bob three (one fails); both pull once.
  await push(ANN, 'createList', {id: `L-ann-${run}`, name: 'ann'});
  await push(ANN, 'createTodo', {id: `t-ann1-${run}`, listID: `L-ann-${run}`, title: 'one'});
  await push(ANN, 'createTodo', {id: `t-ann2-${run}`, listID: `L-ann-${run}`, title: 'two'});
  await push(BOB, 'createList', {id: `L-bob-${run}`, name: 'bob'});
  await push(BOB, 'createTodo', {id: `t-bob1-${run}`, listID: `L-bob-${run}`, title: 'one'});
  // A todo in a list that does not exist: the mutator fails.
  await push(BOB, 'createTodo', {id: `t-bob2-${run}`, listID: `L-none-${run}`, title: 'lost'});
  const annFirst = await pull(ANN, null);
  await pull(BOB, null);
  ok('two users pushed and pulled');

  browser = await chromium.launch({executablePath, args: ['--no-sandbox']});
  const context = await browser.newContext({viewport: {width: 1400, height: 900}});

  // Not an admin: 403, for the page and for its API.
  const stranger = await context.newPage();
  let resp = await stranger.goto(new URL('/sync/devtools/', base).href);
  await check(resp.status() === 403, `the page without the admin token answers 403 (got ${resp.status()})`);
  resp = await stranger.goto(new URL(`/sync/devtools/api/snapshot?token=${'0'.repeat(32)}`, base).href);
  await check(resp.status() === 403, `the API with a wrong token answers 403 (got ${resp.status()})`);
  if (off) {
    resp = await stranger.goto(new URL(`/sync/devtools/?token=${token}`, off).href);
    await check(resp.status() === 404, `a demo without -devtools does not serve the page (got ${resp.status()})`);
  }
  await stranger.close();

  // ann's WebSocket, from a page of the demo's origin: counts pokes.
  const wsPage = await context.newPage();
  wsPage.on('console', m => consoleLines.push(`ws page ${m.type()}: ${m.text()}`));
  await wsPage.goto(new URL('/', base).href);
  await wsPage.evaluate(({group, client, user}) => {
    window.pokes = 0;
    window.wsClosed = false;
    const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/sync/ws?clientGroupID=${encodeURIComponent(group)}&clientID=${encodeURIComponent(client)}&auth=${encodeURIComponent('Bearer ' + user)}`);
    ws.onmessage = e => { if (JSON.parse(e.data).type === 'poke') window.pokes++; };
    ws.onclose = () => { window.wsClosed = true; };
  }, ANN);
  await eventually('ann\'s WebSocket is open and got its first poke', async () => wsPage.evaluate(() => window.pokes >= 1));

  // The devtools page, as an admin.
  devPage = await context.newPage();
  devPage.setDefaultTimeout(STEP_TIMEOUT_MS);
  devPage.on('console', m => consoleLines.push(`devtools ${m.type()}: ${m.text()}`));
  devPage.on('pageerror', e => consoleLines.push(`devtools pageerror: ${e.stack ?? e}`));
  resp = await devPage.goto(new URL(`/sync/devtools/?token=${token}`, base).href);
  await check(resp.status() === 200, 'the admin gets the page');
  await devPage.waitForSelector('body[data-loaded="true"]');

  await eventually('the page lists ann\'s group with her user and lastMutationID 3', async () => {
    const r = row(ANN.group);
    if (await r.count() !== 1) return `no row for ${ANN.group}`;
    const text = await r.innerText();
    return (text.includes(ANN.user) && text.includes(`${ANN.client} = 3`)) || text;
  });
  await eventually('the page lists bob\'s group with his user and lastMutationID 3', async () => {
    const text = await row(BOB.group).innerText();
    return (text.includes(BOB.user) && text.includes(`${BOB.client} = 3`)) || text;
  });
  await eventually('the page shows bob\'s failed mutation among the errors', async () => {
    const kinds = await devPage.locator('#error-kinds').textContent();
    const recent = await devPage.locator('#errors').innerText();
    return (kinds.includes('MutatorFailed × 1') && recent.includes(BOB.group) && recent.includes('createTodo')) || kinds + recent;
  });
  await eventually('the page lists ann\'s WebSocket connection', async () => {
    const text = await devPage.locator('#connections').innerText();
    return (text.includes(ANN.group) && text.includes(ANN.client)) || text;
  });
  await eventually('the change log tail shows ann\'s mutation 3 as an origin', async () => {
    const text = await devPage.locator('#changes').innerText();
    return text.includes(`${ANN.client} / 3`) || text;
  });

  // The API messages carry the discriminant.
  const snap = await devPage.evaluate(async t => (await fetch(`api/snapshot?token=${t}`)).json(), token);
  await check(snap.source === SOURCE && snap.type === 'snapshot', 'the snapshot message carries the plasma-devtools source');

  // Poke: ann's WebSocket gets one more poke.
  const before = await wsPage.evaluate(() => window.pokes);
  await row(ANN.group).locator('button[data-action="poke"]').click();
  await eventually('Poke pokes ann\'s WebSocket', async () => (await wsPage.evaluate(() => window.pokes)) > before);
  await eventually('the page says the poke was done', async () =>
    (await devPage.locator('#action-result').textContent()).includes(`poke ${ANN.group}: done`));

  // Drop view: ann's next pull, with her old cookie, is a reset.
  await eventually('ann\'s group shows its view record', async () => {
    const text = await row(ANN.group).innerText();
    return /\t1 \([1-9]\d* rows\)/.test(text) || text;
  });
  await row(ANN.group).locator('button[data-action="reset"]').click();
  await eventually('the page says ann\'s view was dropped', async () => {
    const t = await devPage.locator('#action-result').textContent();
    return t.includes(`reset ${ANN.group}: done (1 view records dropped, poked)`) || t;
  });
  await eventually('ann\'s group shows no view record', async () => {
    const text = await row(ANN.group).innerText();
    return /\t0 \(0 rows\)/.test(text) || text;
  });
  const after = await pull(ANN, annFirst.cookie);
  await check(after.patch.length > 0 && after.patch[0].op === 'clear', 'ann\'s next pull with her old cookie is a reset');

  // Disconnect: ann's WebSocket is closed.
  await row(ANN.group).locator('button[data-action="disconnect"]').click();
  await eventually('Disconnect closes ann\'s WebSocket', async () => wsPage.evaluate(() => window.wsClosed));

  if (shot) {
    await devPage.evaluate(() => { document.getElementById('live').checked = false; document.getElementById('live').dispatchEvent(new Event('change')); });
    await devPage.screenshot({path: shot, fullPage: true});
    console.log(`    (screenshot: ${shot})`);
  }
  await check(!consoleLines.some(l => l.includes('pageerror')), 'the page raised no errors');

  await browser.close();
  clearTimeout(watchdog);
  console.log(`\n${passed} passed, 0 failed`);
}

main().catch(e => fail(e.stack ?? String(e)));
