// The client-side mutators of the todo example. They mirror the server's
// (examples/todo/mutators.go): same names, same arguments, and they write
// the rows the server will send back, under the keys it uses
// (<table>/<id>), so what the page shows at once equals what the next pull
// confirms. The server's run is the one that counts: when it refuses a
// mutation (not a member, not the owner), the next pull rolls this
// optimistic run back.

// memberID is the id of a list's member row for a user, derived the way
// the server's todo.MemberID derives it:
// "m-" + hex(sha256(listID + "\x00" + userID)[:12]).
export async function memberID(listID, userID) {
  const sum = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${listID}\x00${userID}`));
  return 'm-' + [...new Uint8Array(sum, 0, 12)].map(b => b.toString(16).padStart(2, '0')).join('');
}

// makeMutators returns the mutators for the signed-in user, who is the
// owner of the lists and the author of the todos they create.
export function makeMutators(userID) {
  return {
    async createList(tx, {id, name}) {
      await tx.set(`lists/${id}`, {id, name, owner_id: userID});
      const mid = await memberID(id, userID);
      await tx.set(`members/${mid}`, {id: mid, list_id: id, user_id: userID});
    },
    async addMember(tx, {id, listID, userID: who}) {
      await tx.set(`members/${id}`, {id, list_id: listID, user_id: who});
    },
    async removeMember(tx, {listID, userID: who}) {
      const rows = await tx.scan({prefix: 'members/'}).entries().toArray();
      for (const [key, m] of rows) {
        if (m.list_id === listID && m.user_id === who) await tx.del(key);
      }
    },
    async createTodo(tx, {id, listID, title}) {
      await tx.set(`todos/${id}`, {id, list_id: listID, title, done: false, created_by: userID});
    },
    async updateTodo(tx, {id, title, done}) {
      const t = await tx.get(`todos/${id}`);
      if (t === undefined) return;
      const next = {...t};
      if (title !== undefined) next.title = title;
      if (done !== undefined) next.done = done;
      await tx.set(`todos/${id}`, next);
    },
    async deleteTodo(tx, {id}) {
      await tx.del(`todos/${id}`);
    },
  };
}
