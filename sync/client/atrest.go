package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/orm"
)

// AtRest seals the replica's cells of Encrypted() columns with a local
// keyset (the seed's client at-rest wrapping {dek, keyId}): each cell of
// such a column is stored, in the server-state table and in the view, as
// an envelope (package envelope, AES-256-GCM) bound to its table, row id
// and column, whose plaintext is the value the server sent or a local
// mutator wrote (usually itself an end-to-end envelope).
//
// Reads through DB() return the sealed text for those columns: open it
// with Client.Unseal. Mutators that run locally see sealed values in
// these columns too, so they should write them, not read them. Pending
// mutations' arguments in the outbox are not sealed. Open a replica
// again with a keyset that can open its cells; RotateAtRest re-seals
// every cell under a new primary key.
type AtRest struct {
	Keys *envelope.Keyset
}

// ErrAtRest wraps failures to seal or open a replica cell.
var ErrAtRest = errors.New("plasma: client: at-rest encryption")

const unsealedTable = "_plasma_unsealed"

// encryptedCols returns the indexes of ti's Encrypted() columns.
func (ti *tableInfo) encryptedCols() []int {
	var out []int
	for i, c := range ti.cols {
		if c.encrypted {
			out = append(out, i)
		}
	}
	return out
}

// ensureAtRest creates (on) or drops (off) the triggers that list the
// rows whose encrypted cells a local write left in clear.
func ensureAtRest(ctx context.Context, ex dialect.Executor, tables []*tableInfo, on bool) error {
	if _, err := ex.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+unsealedTable+` (tbl TEXT NOT NULL, id NOT NULL, PRIMARY KEY (tbl, id)) WITHOUT ROWID`); err != nil {
		return err
	}
	for _, ti := range tables {
		if len(ti.encryptedCols()) == 0 {
			continue
		}
		for _, op := range []string{"INSERT", "UPDATE"} {
			name := dialect.QuoteIdent("_plasma_unsealed_" + ti.name + "_" + op)
			q := `DROP TRIGGER IF EXISTS ` + name
			if on {
				q = `CREATE TRIGGER IF NOT EXISTS ` + name + ` AFTER ` + op + ` ON ` + ti.quoted +
					` WHEN NOT EXISTS (SELECT 1 FROM ` + quietTable + `) BEGIN INSERT OR IGNORE INTO ` + unsealedTable +
					` (tbl, id) VALUES (` + sqlString(ti.name) + `, NEW."id"); END`
			}
			if _, err := ex.ExecContext(ctx, q); err != nil {
				return err
			}
		}
	}
	return nil
}

// sealRow is the hook insertRows uses to seal a patch row's cells.
func (c *Client[C]) sealRow(ti *tableInfo, row []any) ([]any, error) {
	enc := ti.encryptedCols()
	if len(enc) == 0 {
		return row, nil
	}
	out := append([]any(nil), row...)
	for _, i := range enc {
		if out[i] == nil {
			continue
		}
		s, err := c.sealCell(envelope.Cell{Table: ti.name, RowID: idText(row[ti.idCol]), Column: ti.cols[i].name}, out[i])
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func cellText(v any) ([]byte, bool) {
	switch t := v.(type) {
	case string:
		return []byte(t), true
	case []byte:
		return t, true
	}
	return nil, false
}

func (c *Client[C]) sealCell(cell envelope.Cell, v any) (string, error) {
	plain, ok := cellText(v)
	if !ok {
		return "", fmt.Errorf("%w: %s holds a %T", ErrAtRest, cell, v)
	}
	env, err := c.atRest().Seal(cell, plain)
	if err != nil {
		return "", fmt.Errorf("%w: seal %s: %w", ErrAtRest, cell, err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// openCell opens a sealed cell; ok is false for a cell in clear.
func openCell(ks *envelope.Keyset, cell envelope.Cell, v any) (plain []byte, ok bool) {
	text, isText := cellText(v)
	if !isText || !strings.Contains(string(text), `"keyId"`) {
		return nil, false
	}
	env, err := envelope.ParseEnvelope(text)
	if err != nil {
		return nil, false
	}
	plain, err = ks.Open(cell, env)
	return plain, err == nil
}

func (c *Client[C]) atRest() *envelope.Keyset {
	return c.keys.Load()
}

// sealPending seals the encrypted cells local writes left in clear (the
// rows the triggers listed), quietly.
func (c *Client[C]) sealPending(ctx context.Context, ex dialect.Executor) error {
	if c.atRest() == nil {
		return nil
	}
	if _, err := ex.ExecContext(ctx, `INSERT INTO `+quietTable+` (k) VALUES (2)`); err != nil {
		return err
	}
	for _, ti := range c.tableList {
		sel := `(SELECT id FROM ` + unsealedTable + ` WHERE tbl = ` + sqlString(ti.name) + `)`
		if err := c.resealTable(ctx, ex, ti, ti.quoted, ` WHERE "id" IN `+sel, nil); err != nil {
			return err
		}
	}
	for _, q := range []string{`DELETE FROM ` + unsealedTable, `DELETE FROM ` + quietTable + ` WHERE k = 2`} {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// resealTable seals the encrypted cells of table (ti's view or shadow)
// that match where: a cell in clear is sealed; with from set, a cell
// sealed under from is opened and sealed again under the current keys.
func (c *Client[C]) resealTable(ctx context.Context, ex dialect.Executor, ti *tableInfo, table, where string, from *envelope.Keyset) error {
	enc := ti.encryptedCols()
	if len(enc) == 0 {
		return nil
	}
	cols := []string{`"id"`}
	for _, i := range enc {
		cols = append(cols, dialect.QuoteIdent(ti.cols[i].name))
	}
	rows, err := ex.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+where)
	if err != nil {
		return err
	}
	type update struct {
		id  any
		col string
		val string
	}
	var ups []update
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return err
		}
		for j, i := range enc {
			v := vals[j+1]
			if v == nil {
				continue
			}
			cell := envelope.Cell{Table: ti.name, RowID: idText(normID(vals[0])), Column: ti.cols[i].name}
			opener := c.atRest()
			if from != nil {
				opener = from
			}
			if plain, sealed := openCell(opener, cell, v); sealed {
				if from == nil {
					continue // sealed already
				}
				v = plain
			}
			s, err := c.sealCell(cell, v)
			if err != nil {
				rows.Close()
				return err
			}
			ups = append(ups, update{vals[0], dialect.QuoteIdent(ti.cols[i].name), s})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, u := range ups {
		if _, err := ex.ExecContext(ctx, `UPDATE `+table+` SET `+u.col+` = ? WHERE "id" = ?`, u.val, u.id); err != nil {
			return err
		}
	}
	return nil
}

func normID(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// Unseal returns the plaintext of a cell of an Encrypted() column read
// from DB(): stored is the value read, and table, rowID and column name
// the cell. Without at-rest encryption it returns stored as it is.
func (c *Client[C]) Unseal(table, rowID, column string, stored any) (json.RawMessage, error) {
	text, ok := cellText(stored)
	if stored == nil {
		return json.RawMessage("null"), nil
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s/%s.%s holds a %T", ErrAtRest, table, rowID, column, stored)
	}
	ks := c.atRest()
	if ks == nil {
		return json.RawMessage(text), nil
	}
	cell := envelope.Cell{Table: table, RowID: rowID, Column: column}
	env, err := envelope.ParseEnvelope(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not sealed: %w", ErrAtRest, cell, err)
	}
	plain, err := ks.Open(cell, env)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrAtRest, cell, err)
	}
	return json.RawMessage(plain), nil
}

// RotateAtRest re-seals every encrypted cell of the replica under keys'
// primary key, in one transaction; cells are opened with the current
// keyset. Afterwards the client seals and opens with keys only.
func (c *Client[C]) RotateAtRest(ctx context.Context, keys *envelope.Keyset) error {
	if keys == nil {
		return fmt.Errorf("%w: RotateAtRest: nil keyset", ErrAtRest)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	old := c.atRest()
	if old == nil {
		return fmt.Errorf("%w: RotateAtRest: the client has no at-rest keys", ErrAtRest)
	}
	c.keys.Store(keys)
	err := c.db.Tx(ctx, func(tx *orm.Tx) error {
		ex := tx.Executor()
		if _, err := ex.ExecContext(ctx, `INSERT INTO `+quietTable+` (k) VALUES (3)`); err != nil {
			return err
		}
		for _, ti := range c.tableList {
			for _, table := range []string{ti.quoted, ti.shadow} {
				if err := c.resealTable(ctx, ex, ti, table, "", old); err != nil {
					return err
				}
			}
		}
		_, err := ex.ExecContext(ctx, `DELETE FROM `+quietTable+` WHERE k = 3`)
		return err
	})
	if err != nil {
		c.keys.Store(old)
	}
	return err
}
