package orm

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unsafe"

	"github.com/plasma-go/plasma/tabledef"
)

// RowSource is a statement that returns rows: a *SelectQuery, or a write
// with Returning.
type RowSource interface {
	Rows(ctx context.Context) (*Result, error)
}

// ErrNull is wrapped by a ScanError for a NULL read into a Go type that
// cannot hold it: use a pointer or a sql.Null* type for nullable columns.
var ErrNull = errors.New("NULL into a non-pointer destination")

// ScanError is a value that could not be stored in its destination.
type ScanError struct {
	Column string
	Err    error
}

func (e *ScanError) Error() string {
	return fmt.Sprintf("plasma: scan column %q: %v", e.Column, e.Err)
}

func (e *ScanError) Unwrap() error { return e.Err }

// All runs q and returns every row as a T. A struct T is filled by column
// name: a field's `db:"name"` tag, else its `gorm:"column:name"` tag, else
// the name its bun tag starts with, else its name in snake_case, else its
// name (see the package documentation for the details); columns without
// a field are skipped. Any other T (int64, string,
// ...) takes a single-column result.
func All[T any](ctx context.Context, q RowSource) ([]T, error) {
	res, err := q.Rows(ctx)
	if err != nil {
		return nil, err
	}
	return Collect[T](res)
}

// One runs q and returns its first row as a T, or an error matching
// ErrNotFound when there is none.
func One[T any](ctx context.Context, q RowSource) (T, error) {
	var zero T
	res, err := q.Rows(ctx)
	if err != nil {
		return zero, err
	}
	defer res.Rows.Close()
	s, err := newScanner[T](res)
	if err != nil {
		return zero, err
	}
	if !res.Rows.Next() {
		if err := res.Rows.Err(); err != nil {
			return zero, err
		}
		return zero, ErrNotFound
	}
	var v T
	if err := s.scan(unsafe.Pointer(&v)); err != nil {
		return zero, err
	}
	return v, res.Rows.Close()
}

// Scalar runs q, which returns one column, and returns the first row's
// value, or an error matching ErrNotFound.
func Scalar[T any](ctx context.Context, q RowSource) (T, error) { return One[T](ctx, q) }

// Collect reads every row of res as a T (see All) and closes it.
func Collect[T any](res *Result) ([]T, error) {
	defer res.Rows.Close()
	s, err := newScanner[T](res)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, max(res.sizeHint, 16)) // room for the LIMIT, if any
	var zero T
	for res.Rows.Next() {
		out = append(out, zero)
		if err := s.scan(unsafe.Pointer(&out[len(out)-1])); err != nil {
			return nil, err
		}
	}
	if err := res.Rows.Err(); err != nil {
		return nil, err
	}
	return out, res.Rows.Close()
}

// Maps runs q and returns each row as a Row keyed by column name. Values
// are normalised by declared kind, the same on both engines: text as
// string, int and bigint as int64, boolean as bool, blob as []byte, JSON
// kinds decoded (objects as map[string]any, numbers as float64), NULL as nil.
func Maps(ctx context.Context, q RowSource) ([]Row, error) {
	res, err := q.Rows(ctx)
	if err != nil {
		return nil, err
	}
	defer res.Rows.Close()
	cols, err := res.Rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []Row
	for res.Rows.Next() {
		if err := res.Rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make(Row, len(cols))
		for i, c := range cols {
			v, err := normalize(kindAt(res.Kinds, i), vals[i])
			if err != nil {
				return nil, &ScanError{Column: c, Err: err}
			}
			r[c] = v
		}
		out = append(out, r)
	}
	if err := res.Rows.Err(); err != nil {
		return nil, err
	}
	return out, res.Rows.Close()
}

func kindAt(kinds []tabledef.Kind, i int) tabledef.Kind {
	if i < len(kinds) {
		return kinds[i]
	}
	return 0
}

// normalize turns a driver value into the Go value Maps promises.
func normalize(k tabledef.Kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case tabledef.KindBool:
		switch b := v.(type) {
		case int64:
			return b != 0, nil
		case bool:
			return b, nil
		}
	case tabledef.KindInt, tabledef.KindBigInt:
		switch n := v.(type) {
		case int64:
			return n, nil
		case []byte, string: // PostgreSQL's numeric, as text
			i, err := strconv.ParseInt(string(textBytes(n)), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("integer result: %w", err)
			}
			return i, nil
		}
	case kindFloat:
		switch n := v.(type) {
		case float64:
			return n, nil
		case int64:
			return float64(n), nil
		case []byte, string:
			f, err := strconv.ParseFloat(string(textBytes(n)), 64)
			if err != nil {
				return nil, fmt.Errorf("numeric result: %w", err)
			}
			return f, nil
		}
	case tabledef.KindBlob:
		if b, ok := v.([]byte); ok {
			return append([]byte{}, b...), nil // an empty blob is not NULL
		}
	case tabledef.KindJSON, tabledef.KindFile, tabledef.KindCounter, tabledef.KindPNCounter, tabledef.KindLWWRegister, tabledef.KindORSet:
		var out any
		if err := json.Unmarshal(textBytes(v), &out); err != nil {
			return nil, fmt.Errorf("stored JSON: %w", err)
		}
		return out, nil
	}
	if b, ok := v.([]byte); ok {
		return string(b), nil // text from a driver that hands out bytes
	}
	return v, nil
}

func textBytes(v any) []byte {
	switch t := v.(type) {
	case []byte:
		return t
	case string:
		return []byte(t)
	}
	return nil
}

// scanner fills values of one Go type from one result's columns.
type scanner struct {
	rows  Rows
	cols  []string
	dest  []any // reused for every row
	binds []binding
}

// smallScan is the widest result whose scanner is allocated at once
// with its slices (smallScanner).
const smallScan = 8

type smallScanner struct {
	s     scanner
	dest  [smallScan]any
	binds [smallScan]binding
}

// binding says how column i reaches its destination.
type binding struct {
	field  *fieldInfo // nil: the whole value (non-struct T), or a skipped column
	skip   bool
	decode bool // JSON text decoded into the destination
	tmp    jsonHolder
	conv   convHolder // with conv.how set, the column is scanned through conv
}

// bindingFor says how a column of kind k reaches field f.
func bindingFor(k tabledef.Kind, f *fieldInfo) binding {
	b := binding{field: f, decode: decodes(k, f.typ)}
	if b.decode {
		return b
	}
	switch {
	case k == tabledef.KindBlob && f.typ == bytesType:
		b.conv.how = convBlob
	case k == tabledef.KindBlob && f.typ == bytesPtrType:
		b.conv.how = convBlobPtr
	case f.typ == anyType:
		b.conv.how = convAny
	}
	b.conv.kind = k
	return b
}

// convKind is how a convHolder stores a column's value.
type convKind uint8

const (
	convNone    convKind = iota
	convBlob             // []byte: NULL is nil, an empty blob an empty slice
	convBlobPtr          // *[]byte: the same behind a pointer
	convAny              // any: the value Maps gives for the column's kind
)

// convHolder scans a column whose Go value plasma decides rather than the
// driver, so that it is the same on both engines: SQLite's driver reads an
// empty blob as a nil slice (PostgreSQL's as an empty one), and a boolean
// into any as an integer.
type convHolder struct {
	dst  unsafe.Pointer
	kind tabledef.Kind
	how  convKind
}

// Scan stores src at dst.
func (h *convHolder) Scan(src any) error {
	switch h.how {
	case convBlob, convBlobPtr:
		var b []byte
		switch v := src.(type) {
		case nil:
			if h.how == convBlob {
				*(*[]byte)(h.dst) = nil
			} else {
				*(**[]byte)(h.dst) = nil
			}
			return nil
		case []byte:
			b = append(make([]byte, 0, len(v)), v...)
		case string:
			b = []byte(v)
		default:
			return fmt.Errorf("blob column holds %T", src)
		}
		if h.how == convBlob {
			*(*[]byte)(h.dst) = b
		} else {
			*(**[]byte)(h.dst) = &b
		}
	case convAny:
		v, err := normalize(h.kind, src)
		if err != nil {
			return err
		}
		*(*any)(h.dst) = v
	}
	return nil
}

type jsonHolder struct{ b []byte }

// Scan keeps the bytes of a JSON column, or nil for NULL.
func (h *jsonHolder) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		h.b = nil
	case []byte:
		h.b = append(h.b[:0], v...)
	case string:
		h.b = append(h.b[:0], v...)
	default:
		return fmt.Errorf("JSON column holds %T", src)
	}
	return nil
}

type discard struct{}

func (discard) Scan(any) error { return nil }

func newScanner[T any](res *Result) (*scanner, error) {
	cols, err := res.Rows.Columns()
	if err != nil {
		return nil, err
	}
	t := reflect.TypeFor[T]()
	var s *scanner
	if len(cols) <= smallScan {
		// The scanner and its per-column slices in one allocation.
		sb := &smallScanner{}
		sb.s = scanner{dest: sb.dest[:len(cols):len(cols)], binds: sb.binds[:len(cols):len(cols)]}
		s = &sb.s
	} else {
		s = &scanner{dest: make([]any, len(cols)), binds: make([]binding, len(cols))}
	}
	s.rows, s.cols = res.Rows, cols
	if t.Kind() != reflect.Struct || scannerType(t) {
		if len(cols) != 1 {
			return nil, fmt.Errorf("plasma: scanning into %s needs one column, the result has %d", t, len(cols))
		}
		f := &fieldInfo{typ: t}
		s.binds[0] = bindingFor(kindAt(res.Kinds, 0), f)
		return s, nil
	}
	fields := structFields(t)
	for i, c := range cols {
		f, ok := fields[c]
		if !ok {
			s.binds[i].skip = true
			s.dest[i] = discard{}
			continue
		}
		s.binds[i] = bindingFor(kindAt(res.Kinds, i), f)
	}
	return s, nil
}

// decodes reports whether a column of kind k read into t goes through
// encoding/json: JSON kinds into anything but a string or []byte, and any
// column into a json.RawMessage (which database/sql cannot scan into).
func decodes(k tabledef.Kind, t reflect.Type) bool {
	if t == rawMessageType {
		return true
	}
	return k.IsJSONText() && wantsDecode(t)
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	bytesType      = reflect.TypeFor[[]byte]()
	bytesPtrType   = reflect.TypeFor[*[]byte]()
	anyType        = reflect.TypeFor[any]()
	scannerIface   = reflect.TypeFor[sql.Scanner]()
)

// wantsDecode reports whether a JSON column read into t is decoded: every
// type but string, []byte and sql.Scanner implementations is.
func wantsDecode(t reflect.Type) bool {
	if t.Kind() == reflect.String || t == bytesType {
		return false
	}
	return !reflect.PointerTo(t).Implements(scannerIface)
}

func scannerType(t reflect.Type) bool { return reflect.PointerTo(t).Implements(scannerIface) }

// scan reads the current row into the value at base.
func (s *scanner) scan(base unsafe.Pointer) error {
	for i := range s.binds {
		b := &s.binds[i]
		switch {
		case b.skip:
		case b.decode:
			s.dest[i] = &b.tmp
		case b.conv.how != convNone:
			b.conv.dst = unsafe.Add(base, b.field.offset)
			s.dest[i] = &b.conv
		default:
			s.dest[i] = b.field.addr(base)
		}
	}
	if err := s.rows.Scan(s.dest...); err != nil {
		return s.explain(err)
	}
	for i := range s.binds {
		b := &s.binds[i]
		if !b.decode {
			continue
		}
		if b.tmp.b == nil { // SQL NULL
			if !nullable(b.field.typ) {
				return &ScanError{Column: s.cols[i], Err: fmt.Errorf("%w (%s)", ErrNull, b.field.typ)}
			}
			continue // the destination is still its zero value
		}
		if err := json.Unmarshal(b.tmp.b, b.field.addr(base)); err != nil {
			return &ScanError{Column: s.cols[i], Err: err}
		}
	}
	return nil
}

// explain turns a database/sql scan error into a ScanError naming the
// column, finding a NULL read into a non-nullable destination by scanning
// the row again (Scan may be called again on the same row).
func (s *scanner) explain(err error) error {
	raw := make([]any, len(s.cols))
	ptrs := make([]any, len(s.cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if s.rows.Scan(ptrs...) == nil {
		for i, v := range raw {
			b := s.binds[i]
			if v == nil && !b.skip && !b.decode && !nullable(b.field.typ) {
				return &ScanError{Column: s.cols[i], Err: fmt.Errorf("%w (%s)", ErrNull, b.field.typ)}
			}
		}
	}
	col := "?"
	if i := strings.Index(err.Error(), `name "`); i >= 0 {
		rest := err.Error()[i+6:]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			col = rest[:j]
		}
	}
	return &ScanError{Column: col, Err: err}
}

func nullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return true
	}
	return scannerType(t)
}

// fieldInfo locates a destination inside a value: at offset from the
// value's address, of type typ.
type fieldInfo struct {
	offset uintptr
	typ    reflect.Type
	fast   fastKind
	name   string // the Go field's name, dotted through embedded structs
	// readOnly fields are scanned but never written (GORM's "->", bun's
	// scanonly): write plans leave them out.
	readOnly bool
}

type fastKind uint8

const (
	fastNone fastKind = iota
	fastString
	fastInt64
	fastInt
	fastBool
	fastFloat64
	fastBytes
)

// addr returns a pointer to the field inside the value at base, as an
// interface for Scan. Common types skip reflection.
func (f *fieldInfo) addr(base unsafe.Pointer) any {
	p := unsafe.Add(base, f.offset)
	switch f.fast {
	case fastString:
		return (*string)(p)
	case fastInt64:
		return (*int64)(p)
	case fastInt:
		return (*int)(p)
	case fastBool:
		return (*bool)(p)
	case fastFloat64:
		return (*float64)(p)
	case fastBytes:
		return (*[]byte)(p)
	}
	return reflect.NewAt(f.typ, p).Interface()
}

func fastOf(t reflect.Type) fastKind {
	if t.PkgPath() != "" && t.Kind() != reflect.Slice {
		return fastNone // a named type: let reflection keep its methods
	}
	switch t.Kind() {
	case reflect.String:
		return fastString
	case reflect.Int64:
		return fastInt64
	case reflect.Int:
		return fastInt
	case reflect.Bool:
		return fastBool
	case reflect.Float64:
		return fastFloat64
	}
	if t == bytesType {
		return fastBytes
	}
	return fastNone
}

var fieldCache sync.Map // reflect.Type -> map[string]*fieldInfo

// structFields maps column names to the fields of struct type t, cached
// per type. Embedded structs' fields are promoted; tags name columns and
// leave fields out as fieldTag describes (`db`, then `gorm`, then `bun`).
func structFields(t reflect.Type) map[string]*fieldInfo {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]*fieldInfo)
	}
	m := make(map[string]*fieldInfo)
	addFields(m, t, 0, "", "")
	fieldCache.Store(t, m)
	return m
}

// addFields adds the fields of struct type t, found at base inside the
// value, to m. prefix names them (Outer.Inner) and colPrefix goes before
// their column names (GORM's embeddedPrefix, bun's embed:prefix).
func addFields(m map[string]*fieldInfo, t reflect.Type, base uintptr, prefix, colPrefix string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := tagOf(f)
		if tag.skip || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if promoted(f, tag) {
			addFields(m, f.Type, base+f.Offset, prefix+f.Name+".", colPrefix+tag.prefix)
			continue
		}
		info := &fieldInfo{offset: base + f.Offset, typ: f.Type, fast: fastOf(f.Type), name: prefix + f.Name, readOnly: tag.readOnly}
		if tag.name != "" {
			m[colPrefix+tag.name] = info
			continue
		}
		for _, n := range []string{snake(f.Name), f.Name, strings.ToLower(f.Name)} {
			if _, taken := m[colPrefix+n]; !taken {
				m[colPrefix+n] = info
			}
		}
	}
}

// promoted reports whether the columns of struct field f are its own
// fields': an embedded struct no tag names as a column, or a struct a
// gorm or bun tag embeds. A struct that scans itself (sql.Scanner) is a
// column.
func promoted(f reflect.StructField, tag fieldTag) bool {
	if f.Type.Kind() != reflect.Struct || scannerType(f.Type) || tag.name != "" {
		return false
	}
	return tag.embed || f.Anonymous
}

// snake turns a Go field name into snake_case: OwnerID -> owner_id.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
