package postgres

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/lib/pq"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// ArrayBinder returns how a multi-row INSERT binds one array per column
// through drv (dialect.ArrayInserter): lib/pq's driver takes the array in
// PostgreSQL's binary array format (pqArray), pgx's database/sql driver
// takes Go slices, which it encodes itself. Any other driver gets nil.
func (pgDialect) ArrayBinder(drv driver.Driver) dialect.ArrayBinder {
	if _, ok := drv.(*pq.Driver); ok {
		return pqBinder{}
	}
	if isPgxDriver(drv) {
		return pgxBinder{}
	}
	return nil
}

var _ dialect.ArrayInserter = pgDialect{}

// isPgxDriver reports whether drv is pgx's database/sql driver
// (*stdlib.Driver), known by its type's package so that this package,
// which lib/pq users link, does not link pgx.
func isPgxDriver(drv driver.Driver) bool {
	t := reflect.TypeOf(drv)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Name() == "Driver" &&
		t.Elem().PkgPath() == "github.com/jackc/pgx/v5/stdlib"
}

// elem is how one column's values travel as array elements: the element
// type's OID and the SQL name of the array type. Each column kind maps to
// the type its column has (see the package doc), so that the array's
// elements are stored as they are, without a cast.
type elem struct {
	oid   uint32
	array string
}

// The element types' OIDs (pg_type).
const (
	oidBool  = 16
	oidBytea = 17
	oidInt8  = 20
	oidInt4  = 23
	oidText  = 25
	oidJSONB = 3802
)

var (
	elemText  = elem{oidText, "text[]"}
	elemJSONB = elem{oidJSONB, "jsonb[]"}
	elemInt4  = elem{oidInt4, "integer[]"}
	elemInt8  = elem{oidInt8, "bigint[]"}
	elemBool  = elem{oidBool, "boolean[]"}
	elemBytea = elem{oidBytea, "bytea[]"}
)

// elemOf returns the element type of c's column (ColumnType, DDL's
// auto-increment BIGINT); every kind has one.
func elemOf(c *tabledef.Column) (elem, bool) {
	if c.AutoIncrement {
		return elemInt8, true
	}
	if c.Encrypted {
		return elemText, true
	}
	switch c.Kind {
	case tabledef.KindID, tabledef.KindText,
		tabledef.KindCounter, tabledef.KindPNCounter, tabledef.KindLWWRegister, tabledef.KindORSet:
		return elemText, true
	case tabledef.KindJSON, tabledef.KindFile:
		return elemJSONB, true
	case tabledef.KindInt:
		return elemInt4, true
	case tabledef.KindBigInt:
		return elemInt8, true
	case tabledef.KindBool:
		return elemBool, true
	case tabledef.KindBlob:
		return elemBytea, true
	}
	return elem{}, false
}

// Values an array may hold, as plasma binds them (orm's bindValue): a
// string for text and JSON (valid UTF-8, checked there; one holding NUL,
// which PostgreSQL's text cannot store, is refused here so that the
// insert fails as VALUES would), an int64 for integers (within 32 bits
// for INTEGER), a bool, a []byte for bytea (nil is NULL, as lib/pq and
// pgx bind it), nil for NULL. Anything else, a driver.Valuer included,
// makes BindArray decline.
func okString(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok && strings.IndexByte(s, 0) < 0
}

func okInt(e elem, v any) (int64, bool) {
	n, ok := v.(int64)
	if ok && e.oid == oidInt4 && (n < math.MinInt32 || n > math.MaxInt32) {
		return 0, false
	}
	return n, ok
}

// columnTypesQuery lists a table's columns and their types' OIDs, the
// table named as the INSERT names it (resolved by the search path).
const columnTypesQuery = `SELECT a.attname, a.atttypid::int8 FROM pg_catalog.pg_attribute a ` +
	`WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`

// columnsMatch is ColumnsMatch for both binders: every column in cols
// exists with exactly its array's element type (a domain, a varchar or a
// wider integer does not match).
func columnsMatch(ctx context.Context, exec dialect.Executor, table string, cols []*tabledef.Column) (bool, error) {
	rows, err := exec.QueryContext(ctx, columnTypesQuery, string(dialect.AppendIdent(nil, table)))
	if err != nil {
		return false, err
	}
	defer rows.Close()
	types := make(map[string]uint32, len(cols))
	for rows.Next() {
		var name string
		var oid int64
		if err := rows.Scan(&name, &oid); err != nil {
			return false, err
		}
		types[name] = uint32(oid)
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	if len(types) == 0 {
		return false, fmt.Errorf("plasma: table %s not found", table)
	}
	for _, c := range cols {
		e, ok := elemOf(c)
		if got, found := types[c.Name]; !ok || !found || got != e.oid {
			return false, nil
		}
	}
	return true, nil
}

// pqBinder encodes arrays for lib/pq (pqArray).
type pqBinder struct{}

func (pqBinder) ColumnsMatch(ctx context.Context, exec dialect.Executor, table string, cols []*tabledef.Column) (bool, error) {
	return columnsMatch(ctx, exec, table, cols)
}

func (pqBinder) ArrayType(c *tabledef.Column) (string, bool) {
	e, ok := elemOf(c)
	return e.array, ok
}

// BindArray encodes the values in PostgreSQL's binary array format
// (array_recv): dimensions, a has-NULLs flag, the element type, the
// length and lower bound, then each element's length (-1 for NULL) and
// its binary form (textsend/jsonb_send/int4send/int8send/boolsend/
// byteasend).
func (pqBinder) BindArray(c *tabledef.Column, vals []any, at, stride, n int) (any, bool) {
	e, ok := elemOf(c)
	if !ok {
		return nil, false
	}
	b := make([]byte, 20, 20+n*8)
	nulls := uint32(0)
	for i := 0; i < n; i++ {
		v := vals[at+i*stride]
		if v == nil {
			b = binary.BigEndian.AppendUint32(b, math.MaxUint32) // -1: NULL
			nulls = 1
			continue
		}
		switch e.oid {
		case oidText, oidJSONB:
			s, ok := okString(v)
			if !ok {
				return nil, false
			}
			if e.oid == oidJSONB {
				b = binary.BigEndian.AppendUint32(b, uint32(len(s)+1))
				b = append(b, 1) // jsonb's binary format version
			} else {
				b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
			}
			b = append(b, s...)
		case oidInt4, oidInt8:
			x, ok := okInt(e, v)
			if !ok {
				return nil, false
			}
			if e.oid == oidInt4 {
				b = binary.BigEndian.AppendUint32(b, 4)
				b = binary.BigEndian.AppendUint32(b, uint32(int32(x)))
			} else {
				b = binary.BigEndian.AppendUint32(b, 8)
				b = binary.BigEndian.AppendUint64(b, uint64(x))
			}
		case oidBool:
			x, ok := v.(bool)
			if !ok {
				return nil, false
			}
			b = binary.BigEndian.AppendUint32(b, 1)
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case oidBytea:
			x, ok := v.([]byte)
			if !ok {
				return nil, false
			}
			if x == nil {
				b = binary.BigEndian.AppendUint32(b, math.MaxUint32)
				nulls = 1
				continue
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
			b = append(b, x...)
		}
	}
	binary.BigEndian.PutUint32(b[0:], 1) // one dimension
	binary.BigEndian.PutUint32(b[4:], nulls)
	binary.BigEndian.PutUint32(b[8:], e.oid)
	binary.BigEndian.PutUint32(b[12:], uint32(n))
	binary.BigEndian.PutUint32(b[16:], 1) // lower bound
	return pqArray{bin: b}, true
}

// pqArray is one column's values as an array parameter for lib/pq, in
// PostgreSQL's binary array format. lib/pq sends a []byte argument in
// binary format only in its binary_parameters mode, which a driver.Conn
// does not reveal: so the connections Open makes, which know their mode
// (cachingConn.CheckNamedValue), hand the binary form on as it is, and
// any other lib/pq connection gets Value's text form, which is right in
// either mode.
type pqArray struct{ bin []byte }

// Value returns the array as a text literal (array_in): each element
// double-quoted with '"' and '\' escaped, integers and booleans bare,
// bytea in its hex form, NULL unquoted.
func (a pqArray) Value() (driver.Value, error) {
	b := a.bin
	oid := binary.BigEndian.Uint32(b[8:])
	n := int(binary.BigEndian.Uint32(b[12:]))
	out := make([]byte, 0, len(b)+2*n)
	out = append(out, '{')
	b = b[20:]
	for i := 0; i < n; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		l := binary.BigEndian.Uint32(b)
		b = b[4:]
		if l == math.MaxUint32 {
			out = append(out, "NULL"...)
			continue
		}
		v := b[:l]
		b = b[l:]
		switch oid {
		case oidInt4:
			out = strconv.AppendInt(out, int64(int32(binary.BigEndian.Uint32(v))), 10)
		case oidInt8:
			out = strconv.AppendInt(out, int64(binary.BigEndian.Uint64(v)), 10)
		case oidBool:
			if v[0] != 0 {
				out = append(out, 't')
			} else {
				out = append(out, 'f')
			}
		case oidBytea:
			out = append(out, `"\\x`...)
			out = hex.AppendEncode(out, v)
			out = append(out, '"')
		default: // text; jsonb after its version byte
			if oid == oidJSONB {
				v = v[1:]
			}
			out = append(out, '"')
			for _, c := range v {
				if c == '"' || c == '\\' {
					out = append(out, '\\')
				}
				out = append(out, c)
			}
			out = append(out, '"')
		}
	}
	return string(append(out, '}')), nil
}

// pgxBinder hands pgx Go slices of the column's values: pgx encodes a
// []string, []int64, []bool or [][]byte for an array parameter of the
// statement's type with the same codec as a single value of that type
// (a string for jsonb is JSON text, as plasma binds it), and a slice of
// pointers when some values are NULL.
type pgxBinder struct{}

func (pgxBinder) ColumnsMatch(ctx context.Context, exec dialect.Executor, table string, cols []*tabledef.Column) (bool, error) {
	return columnsMatch(ctx, exec, table, cols)
}

func (pgxBinder) ArrayType(c *tabledef.Column) (string, bool) {
	e, ok := elemOf(c)
	return e.array, ok
}

func (pgxBinder) BindArray(c *tabledef.Column, vals []any, at, stride, n int) (any, bool) {
	e, ok := elemOf(c)
	if !ok {
		return nil, false
	}
	nulls := false
	for i := 0; i < n && !nulls; i++ {
		nulls = vals[at+i*stride] == nil
	}
	switch e.oid {
	case oidText, oidJSONB:
		return pgxSlice(vals, at, stride, n, nulls, okString)
	case oidInt4, oidInt8:
		return pgxSlice(vals, at, stride, n, nulls, func(v any) (int64, bool) { return okInt(e, v) })
	case oidBool:
		return pgxSlice(vals, at, stride, n, nulls, func(v any) (bool, bool) { x, ok := v.(bool); return x, ok })
	case oidBytea: // a nil []byte is NULL to pgx, in an array too
		out := make([][]byte, n)
		for i := range out {
			v := vals[at+i*stride]
			if v == nil {
				continue
			}
			x, ok := v.([]byte)
			if !ok {
				return nil, false
			}
			out[i] = x
		}
		return out, true
	}
	return nil, false
}

// pgxSlice makes a []T of the values, or a []*T when some are NULL.
func pgxSlice[T any](vals []any, at, stride, n int, nulls bool, conv func(any) (T, bool)) (any, bool) {
	if !nulls {
		out := make([]T, n)
		for i := range out {
			x, ok := conv(vals[at+i*stride])
			if !ok {
				return nil, false
			}
			out[i] = x
		}
		return out, true
	}
	backing := make([]T, n)
	out := make([]*T, n)
	for i := range out {
		v := vals[at+i*stride]
		if v == nil {
			continue
		}
		x, ok := conv(v)
		if !ok {
			return nil, false
		}
		backing[i] = x
		out[i] = &backing[i]
	}
	return out, true
}
