// The real replicache@15.3.0 client and plasma's Go client (sync/client)
// on the same list: run by goclient_test.go, which starts the server and
// a Go client of bob's, and waits for this script.
//
//   PLASMA_SYNC_URL=http://127.0.0.1:8787/sync node goclient.mjs
//
// ann (here) makes list L-go-e2e, adds bob and creates todo t-js; bob (the
// Go client) sees it, marks it done and creates t-go; ann sees both and
// renames t-go; the Go side then checks it sees the rename. Exits 0 on
// success, 1 on a timeout.
import 'fake-indexeddb/auto';
import {Replicache} from 'replicache';

const syncURL = process.env.PLASMA_SYNC_URL;
if (!syncURL) {
  console.error('goclient.mjs: set PLASMA_SYNC_URL');
  process.exit(2);
}
const LIST = 'L-go-e2e';
const watchdog = setTimeout(() => {
  console.error('FAIL: timed out');
  process.exit(1);
}, 60_000);

async function memberID(listID, userID) {
  const sum = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${listID}\x00${userID}`));
  return 'm-' + Buffer.from(sum.slice(0, 12)).toString('hex');
}

const rep = new Replicache({
  name: 'goclient-e2e-ann',
  schemaVersion: '1',
  pushURL: `${syncURL}/push`,
  pullURL: `${syncURL}/pull`,
  auth: 'Bearer ann',
  pullInterval: null,
  logLevel: 'error',
  mutators: {
    async createList(tx, {id, name}) {
      await tx.set(`lists/${id}`, {id, name, owner_id: 'ann'});
      const mid = await memberID(id, 'ann');
      await tx.set(`members/${mid}`, {id: mid, list_id: id, user_id: 'ann'});
    },
    async addMember(tx, {id, listID, userID}) {
      await tx.set(`members/${id}`, {id, list_id: listID, user_id: userID});
    },
    async createTodo(tx, {id, listID, title}) {
      await tx.set(`todos/${id}`, {id, list_id: listID, title, done: false, created_by: 'ann'});
    },
    async updateTodo(tx, {id, title, done}) {
      const t = await tx.get(`todos/${id}`);
      if (t === undefined) return;
      await tx.set(`todos/${id}`, {...t, ...(title !== undefined && {title}), ...(done !== undefined && {done})});
    },
  },
});

async function until(what, cond) {
  for (;;) {
    await rep.pull();
    const v = await rep.query(tx => tx.scan({prefix: 'todos/'}).entries().toArray());
    const todos = Object.fromEntries(v);
    if (cond(todos)) return todos;
    await new Promise(r => setTimeout(r, 100));
  }
}

await rep.mutate.createList({id: LIST, name: 'shared with a Go client'});
await rep.mutate.addMember({id: await memberID(LIST, 'bob'), listID: LIST, userID: 'bob'});
await rep.mutate.createTodo({id: 't-js', listID: LIST, title: 'from replicache'});
console.log('ann: made the list, added bob, created t-js');
await until('bob marks t-js done and creates t-go', t => t['todos/t-js']?.done === true && t['todos/t-go'] !== undefined);
console.log('ann: sees t-js done and t-go from the Go client');
await rep.mutate.updateTodo({id: 't-go', title: 'renamed by replicache'});
await until('the rename confirmed', t => t['todos/t-go']?.title === 'renamed by replicache' && t['todos/t-go']?.created_by === 'bob');
// The rename shows at once in ann's optimistic view, so the check above
// can pass before the push has gone out; the server has confirmed it
// once no mutation is pending after a pull.
for (const deadline = Date.now() + 10_000; ; ) {
  const pending = await rep.experimentalPendingMutations();
  if (pending.length === 0) break;
  if (Date.now() > deadline) {
    console.error(`FAIL: ${pending.length} mutations still pending after 10 s`);
    process.exit(1);
  }
  await new Promise(r => setTimeout(r, 100));
  await rep.pull();
}
console.log('ann: rename confirmed by the server');
clearTimeout(watchdog);
await rep.close();
process.exit(0);
