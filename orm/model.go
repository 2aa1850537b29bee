package orm

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

// ErrBadModel is wrapped by the QueryError for a value that cannot be
// written as a row: not a struct (or pointer to, or slice of structs), a
// nil pointer, a field that matches no column, or a tagged field that is
// unexported.
var ErrBadModel = errors.New("value cannot be written as a row")

// writePlan is how the values of one struct type fill the columns of one
// table: the columns the struct's fields map to, in the table's
// declaration order, and where each value is.
type writePlan struct {
	cols   []string
	decl   []int // index of each column in the table's columns
	fields []*fieldInfo
	binds  []bindMode // how each field's value is checked
	err    error      // the type cannot be written to the table
}

// bindMode is how a field's value is checked against its column when the
// field's Go type already fits the column's kind, so that the checks of
// bindValue that cannot fail are skipped: the value is still checked as
// far as its type does not settle it (text for UTF-8, an int column for
// its 32-bit range), and any value that fails goes through bindDef,
// which reports it.
type bindMode uint8

const (
	bindChecked bindMode = iota // bindDef: the general check
	bindAsIs                    // the type settles it (int64 to bigint, bool to boolean)
	bindText                    // a string to a text or id column: valid UTF-8
	bindInt32                   // an integer to an int column: within 32 bits
)

// bindModeOf returns how a value of field f is checked for column c.
func bindModeOf(f *fieldInfo, c *Column) bindMode {
	if c.def.Encrypted {
		return bindChecked
	}
	k := c.def.Kind
	switch f.fast {
	case fastString:
		if k == tabledef.KindText || k == tabledef.KindID {
			return bindText
		}
	case fastInt64, fastInt: // value binds both as an int64
		switch k {
		case tabledef.KindBigInt:
			return bindAsIs
		case tabledef.KindInt:
			return bindInt32
		}
	case fastBool:
		if k == tabledef.KindBool {
			return bindAsIs
		}
	}
	return bindChecked
}

// bind returns the value of field i of the plan in the struct at base,
// checked against its column of t as bindDef checks it. base is the
// statement's own copy of the struct (Model's ownRows): a string, an
// integer or a bool is bound as an interface pointing at the field
// (box), where converting it to an interface would copy it to a new
// allocation of its own.
func (p *writePlan) bind(t *Table, i int, base unsafe.Pointer) (any, error) {
	f := p.fields[i]
	at := unsafe.Add(base, f.offset)
	switch p.binds[i] {
	case bindAsIs:
		switch f.fast {
		case fastInt64:
			return box(int64Type, at), nil
		case fastInt:
			if intIs64 {
				return box(int64Type, at), nil
			}
		case fastBool:
			return box(boolType, at), nil
		}
	case bindText:
		if validUTF8(*(*string)(at)) {
			return box(stringType, at), nil
		}
	case bindInt32:
		n := int64(0)
		if f.fast == fastInt64 {
			n = *(*int64)(at)
		} else {
			n = int64(*(*int)(at))
		}
		if n >= math.MinInt32 && n <= math.MaxInt32 && (f.fast == fastInt64 || intIs64) {
			return box(int64Type, at), nil
		}
	}
	return bindDef("", t, &t.columns[p.decl[i]], f.value(base))
}

// intIs64 is whether an int has an int64's layout, so that an interface
// holding an int64 may point at one.
const intIs64 = unsafe.Sizeof(int(0)) == unsafe.Sizeof(int64(0))

// eface is the layout of an interface without methods (an any) in the
// Go runtime, on which reflect relies too: a pointer to its dynamic type,
// and one to its value when the value is not itself pointer-shaped, as
// strings, integers and bools are not.
type eface struct {
	typ, data unsafe.Pointer
}

var (
	stringType = typeOf("")
	int64Type  = typeOf(int64(0))
	boolType   = typeOf(false)
)

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// box returns an interface of dynamic type typ (a string, int64 or bool
// type) holding the value at p, without copying it: the value must not
// change while the interface is in use.
func box(typ, p unsafe.Pointer) any {
	e := eface{typ: typ, data: p}
	return *(*any)(unsafe.Pointer(&e))
}

// plansKey holds a table's write plans, one per struct type, in the
// table's Memo: they go away with the table, and With, which can change
// its columns, starts them afresh.
var plansKey = NewMemoKey[*sync.Map]("orm.writePlans")

// planFor returns the plan for writing struct type typ to t, made on
// first use and kept with t. The fields map to columns as they do when rows
// are scanned (see All): a `db:"name"` tag, else a gorm or bun tag that
// names the column, else the field's name in snake_case, else its name;
// embedded structs' fields are promoted, and `db:"-"`, `gorm:"-"`,
// `bun:"-"` and GORM's and bun's relation fields are left out, and so are
// read-only fields (`gorm:"->"`, `bun:",scanonly"`; see fieldTag). A
// field that maps to no column of t is an error, as is an unexported
// field with a db tag.
func planFor(t *Table, typ reflect.Type) *writePlan {
	plans := MemoLoad(t.memo, plansKey, func() *sync.Map { return new(sync.Map) })
	if p, ok := plans.Load(typ); ok {
		return p.(*writePlan)
	}
	p, _ := plans.LoadOrStore(typ, makePlan(t, typ))
	return p.(*writePlan)
}

func makePlan(t *Table, typ reflect.Type) *writePlan {
	if name := unexportedTagged(typ, ""); name != "" {
		return &writePlan{err: fmt.Errorf("%s field %s has a db tag but is unexported", typ, name)}
	}
	fields := structFields(typ)
	p := &writePlan{}
	used := make(map[*fieldInfo]bool)
	for i := range t.columns {
		name := t.columns[i].def.Name
		f, ok := fields[name]
		if !ok || used[f] {
			continue
		}
		used[f] = true
		if f.readOnly {
			continue
		}
		p.cols = append(p.cols, name)
		p.decl = append(p.decl, i)
		p.fields = append(p.fields, f)
		p.binds = append(p.binds, bindModeOf(f, &t.columns[i]))
	}
	var unknown []*fieldInfo
	for _, f := range fields {
		if !used[f] && !f.readOnly && !slices.Contains(unknown, f) {
			unknown = append(unknown, f)
		}
	}
	if len(unknown) > 0 {
		slices.SortFunc(unknown, func(a, b *fieldInfo) int { return int(a.offset) - int(b.offset) })
		return &writePlan{err: fmt.Errorf("%s field %s matches no column of %s (tag it db:\"-\" to leave it out)", typ, unknown[0].name, t.name)}
	}
	if len(p.cols) == 0 {
		return &writePlan{err: fmt.Errorf("%s has no field for any column of %s", typ, t.name)}
	}
	return p
}

// unexportedTagged returns the name of the first unexported field of
// struct type t (or of a struct it embeds) that has a db tag other than
// "-": plasma cannot read it, and the tag says it was meant to be written.
func unexportedTagged(t reflect.Type, prefix string) string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("db")
		if !f.IsExported() && !f.Anonymous && tag != "" && tag != "-" {
			return prefix + f.Name
		}
		if ft := tagOf(f); !ft.skip && (f.IsExported() || f.Anonymous) && promoted(f, ft) {
			if n := unexportedTagged(f.Type, prefix+f.Name+"."); n != "" {
				return n
			}
		}
	}
	return ""
}

// value reads the field inside the value at base as the value to bind.
// Common types skip reflection; a Go int is bound as an int64.
func (f *fieldInfo) value(base unsafe.Pointer) any {
	p := unsafe.Add(base, f.offset)
	switch f.fast {
	case fastString:
		return *(*string)(p)
	case fastInt64:
		return *(*int64)(p)
	case fastInt:
		return int64(*(*int)(p))
	case fastBool:
		return *(*bool)(p)
	case fastFloat64:
		return *(*float64)(p)
	case fastBytes:
		return *(*[]byte)(p)
	}
	return reflect.NewAt(f.typ, p).Elem().Interface()
}

// structRows returns the structs v holds, as pointers to each: v is a
// struct, a pointer to one, or a slice or array of structs or of
// pointers to structs, all of one type.
func structRows(v any) (reflect.Type, []unsafe.Pointer, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return nil, nil, fmt.Errorf("nil")
	}
	one := func(rv reflect.Value) (reflect.Type, unsafe.Pointer, error) {
		switch {
		case rv.Kind() == reflect.Pointer && rv.Type().Elem().Kind() == reflect.Struct:
			if rv.IsNil() {
				return nil, nil, fmt.Errorf("nil %s", rv.Type())
			}
			return rv.Type().Elem(), rv.UnsafePointer(), nil
		case rv.Kind() == reflect.Struct:
			if rv.CanAddr() {
				return rv.Type(), rv.Addr().UnsafePointer(), nil
			}
			c := reflect.New(rv.Type())
			c.Elem().Set(rv)
			return rv.Type(), c.UnsafePointer(), nil
		case rv.Kind() == reflect.Interface && !rv.IsNil():
			return nil, nil, fmt.Errorf("%s holding %s: use a slice of one struct type", rv.Type(), rv.Elem().Type())
		}
		return nil, nil, fmt.Errorf("%s is not a struct or a pointer to one", rv.Type())
	}
	if k := rv.Kind(); k == reflect.Slice || k == reflect.Array {
		if rv.Len() == 0 {
			return nil, nil, nil
		}
		ptrs := make([]unsafe.Pointer, rv.Len())
		if et := rv.Type().Elem(); k == reflect.Slice && et.Kind() == reflect.Struct {
			// The elements sit one after another in the backing array.
			base, size := rv.UnsafePointer(), et.Size()
			for i := range ptrs {
				ptrs[i] = unsafe.Add(base, uintptr(i)*size)
			}
			return et, ptrs, nil
		}
		var typ reflect.Type
		if k == reflect.Array && !rv.CanAddr() {
			c := reflect.New(rv.Type()).Elem()
			c.Set(rv)
			rv = c
		}
		for i := range ptrs {
			t, p, err := one(rv.Index(i))
			if err != nil {
				return nil, nil, fmt.Errorf("element %d: %w", i, err)
			}
			if typ != nil && t != typ {
				return nil, nil, fmt.Errorf("element %d is a %s, element 0 a %s", i, t, typ)
			}
			typ, ptrs[i] = t, p
		}
		return typ, ptrs, nil
	}
	t, p, err := one(rv)
	if err != nil {
		return nil, nil, err
	}
	return t, []unsafe.Pointer{p}, nil
}

// Model adds rows from Go values instead of Rows: a struct, a pointer to
// one, or a slice of structs or of pointers to structs. Fields map to
// columns as they do when rows are scanned (a `db:"name"` tag, else a
// gorm or bun tag naming the column, else the field's name in snake_case,
// else its name; `db:"-"`, `gorm:"-"`, `bun:"-"` and relations are left out),
// and every mapped field is written, as if it were a Row holding each
// field's value: middlewares (row auth, the change log, encryption, CRDT
// merging) see the same statement. A field that matches no column of the
// table is an error, found on the type's first use and remembered; so is
// a nil pointer or anything that is not a struct. A Row or []Row is
// taken as Values takes it. On any error nothing is written.
func (q *InsertQuery) Model(v any) *InsertQuery {
	switch r := v.(type) {
	case Row:
		return q.Values(r)
	case []Row:
		return q.Values(r...)
	}
	if q.err != nil {
		return q
	}
	p := &q.parts
	if p.Table == nil {
		q.err = &QueryError{Statement: q.name(), Err: ErrNoTable}
		return q
	}
	typ, own, count, err := ownRows(v)
	if err != nil {
		q.err = &QueryError{Statement: q.name(), Err: ErrBadModel, Detail: err.Error()}
		return q
	}
	if count == 0 {
		q.err = &QueryError{Statement: q.name(), Err: ErrNoValues, Detail: "an empty slice"}
		return q
	}
	plan := planFor(p.Table, typ)
	if plan.err != nil {
		q.err = &QueryError{Statement: q.name(), Err: ErrBadModel, Detail: plan.err.Error()}
		return q
	}
	if p.Columns == nil {
		p.Columns = plan.cols
	} else if !slices.Equal(p.Columns, plan.cols) {
		q.err = &QueryError{Statement: q.name(), Err: ErrRaggedRows,
			Detail: fmt.Sprintf("%s fills columns %v, earlier rows %v", typ, plan.cols, p.Columns)}
		return q
	}
	if len(p.Rows) == 0 && q.lazy == nil && plan.boxable() {
		l := &lazyRows{plan: plan, own: own, size: typ.Size(), count: count}
		if l.valid() {
			q.lazy, q.flat = l, nil // the values are made when they are needed
			return q
		}
	}
	q.unlazy()
	n, size := len(plan.cols), typ.Size()
	slab := make([]any, n*count)
	var rows [][]any
	if p.Rows == nil && count == 1 {
		rows = q.row1[:0:1]
	} else {
		rows = make([][]any, 0, len(p.Rows)+count)
		rows = append(rows, p.Rows...)
	}
	for r := range count {
		base := unsafe.Add(own, uintptr(r)*size)
		vals := slab[r*n : (r+1)*n : (r+1)*n]
		for i := range plan.fields {
			bound, err := plan.bind(p.Table, i, base)
			if err != nil {
				q.err = inStatement(err, q.name())
				return q
			}
			vals[i] = bound
		}
		rows = append(rows, vals)
	}
	q.flat = nil
	if len(p.Rows) == 0 {
		q.flat = slab
	}
	p.Rows = rows
	return q
}

// boxable reports whether every field of the plan is bound by box once
// its value passed the plan's check (bindAsIs, bindText, bindInt32 on a
// string, int64, 64-bit int or bool field), so that binding it again
// cannot fail or differ: what lets Model defer making the values.
func (p *writePlan) boxable() bool {
	for i, f := range p.fields {
		switch {
		case p.binds[i] == bindText:
		case f.fast == fastInt64, f.fast == fastInt && intIs64:
			if p.binds[i] != bindAsIs && p.binds[i] != bindInt32 {
				return false
			}
		case f.fast == fastBool && p.binds[i] == bindAsIs:
		default:
			return false
		}
	}
	return true
}

// boxChecked is bind for a boxable plan's field whose value was checked.
func (p *writePlan) boxChecked(i int, base unsafe.Pointer) any {
	f := p.fields[i]
	at := unsafe.Add(base, f.offset)
	switch f.fast {
	case fastString:
		return box(stringType, at)
	case fastBool:
		return box(boolType, at)
	}
	return box(int64Type, at) // an int64, or an int of 64 bits (boxable)
}

// lazyRows are the rows one Model call added to an empty INSERT, checked
// but not yet made into values: the statement's copy of the structs and
// the plan that reads them. A plain INSERT run on database/sql's own
// executors boxes them straight into its pooled argument buffer
// (appendTo), so the statement allocates its copy of the structs and
// nothing else; anything that reads the rows (Parts, Rewrite, rendering
// the text, COPY, Values or Model adding more) makes them, once (rows).
type lazyRows struct {
	plan  *writePlan
	own   unsafe.Pointer
	size  uintptr
	count int

	once sync.Once
	rows [][]any
	flat []any // the array the rows are runs of
}

func (l *lazyRows) base(r int) unsafe.Pointer { return unsafe.Add(l.own, uintptr(r)*l.size) }

// valid checks every value as bind would; false if one fails (Model then
// binds them at once, to report it).
func (l *lazyRows) valid() bool {
	p := l.plan
	for r := range l.count {
		base := l.base(r)
		for i, f := range p.fields {
			at := unsafe.Add(base, f.offset)
			switch p.binds[i] {
			case bindText:
				if !validUTF8(*(*string)(at)) {
					return false
				}
			case bindInt32:
				n := *(*int64)(at) // an int64, or an int of 64 bits (boxable)
				if n < math.MinInt32 || n > math.MaxInt32 {
					return false
				}
			}
		}
	}
	return true
}

// appendTo appends the values of every row to args.
func (l *lazyRows) appendTo(args []any) []any {
	args = slices.Grow(args, l.count*len(l.plan.fields))
	for r := range l.count {
		base := l.base(r)
		for i := range l.plan.fields {
			args = append(args, l.plan.boxChecked(i, base))
		}
	}
	return args
}

// make returns the rows, made on first use.
func (l *lazyRows) make() ([][]any, []any) {
	l.once.Do(func() {
		n := len(l.plan.fields)
		l.flat = l.appendTo(make([]any, 0, n*l.count))
		l.rows = make([][]any, l.count)
		for r := range l.rows {
			l.rows[r] = l.flat[r*n : (r+1)*n : (r+1)*n]
		}
	})
	return l.rows, l.flat
}

// rows returns q's rows to read, making lazy ones (shared with q's
// clones: not to be changed).
func (q *InsertQuery) rows() [][]any {
	if q.lazy != nil {
		rows, _ := q.lazy.make()
		return rows
	}
	return q.parts.Rows
}

// rowCount is len(q.rows()) without making them.
func (q *InsertQuery) rowCount() int {
	if q.lazy != nil {
		return q.lazy.count
	}
	return len(q.parts.Rows)
}

// unlazy makes q's lazy rows its own Rows, before they are changed or
// added to.
func (q *InsertQuery) unlazy() {
	if q.lazy == nil {
		return
	}
	rows, flat := q.lazy.make()
	q.parts.Rows, q.flat, q.lazy = slices.Clone(rows), flat, nil
}

// ownRows copies the structs v holds (see structRows) into one new
// array, returning their type, the array's address and their number.
// The statement's values point into the copy (writePlan.bind), which
// nothing else can change: the caller may reuse its structs as soon as
// Model returns. A slice of structs is copied at once.
func ownRows(v any) (reflect.Type, unsafe.Pointer, int, error) {
	rv := reflect.ValueOf(v)
	switch {
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Struct:
		n := rv.Len()
		if n == 0 {
			return rv.Type().Elem(), nil, 0, nil
		}
		own := reflect.MakeSlice(rv.Type(), n, n)
		reflect.Copy(own, rv)
		return rv.Type().Elem(), own.UnsafePointer(), n, nil
	case rv.Kind() == reflect.Pointer && rv.Type().Elem().Kind() == reflect.Struct && !rv.IsNil():
		own := reflect.New(rv.Type().Elem())
		own.Elem().Set(rv.Elem())
		return rv.Type().Elem(), own.UnsafePointer(), 1, nil
	}
	typ, ptrs, err := structRows(v)
	if err != nil || len(ptrs) == 0 {
		return typ, nil, 0, err
	}
	own := reflect.MakeSlice(reflect.SliceOf(typ), len(ptrs), len(ptrs))
	for i, p := range ptrs {
		own.Index(i).Set(reflect.NewAt(typ, p).Elem())
	}
	return typ, own.UnsafePointer(), len(ptrs), nil
}

// setModel is Set for a struct: each mapped field but the primary key
// becomes an assignment, in the table's declaration order.
func (q *UpdateQuery) setModel(v any) error {
	t := q.parts.Table
	if k := reflect.TypeOf(v); k != nil && (k.Kind() == reflect.Slice || k.Kind() == reflect.Array) {
		return &QueryError{Statement: q.name(), Err: ErrBadModel, Detail: fmt.Sprintf("Set takes one struct, not a %s", k)}
	}
	typ, ptrs, err := structRows(v)
	if err != nil {
		return &QueryError{Statement: q.name(), Err: ErrBadModel, Detail: err.Error()}
	}
	plan := planFor(t, typ)
	if plan.err != nil {
		return &QueryError{Statement: q.name(), Err: ErrBadModel, Detail: plan.err.Error()}
	}
	set := make([]Assignment, 0, len(plan.cols))
	for i, f := range plan.fields {
		if t.columns[plan.decl[i]].primaryKey {
			continue // the row's identity: Where picks the rows
		}
		v := f.value(ptrs[0])
		if _, isExpr := v.(expr.Expr); !isExpr {
			if v, err = bindDef("", t, &t.columns[plan.decl[i]], v); err != nil {
				return inStatement(err, q.name())
			}
		}
		set = append(set, Assignment{Column: plan.cols[i], Value: v})
	}
	q.parts.Set = append(q.parts.Set, set...)
	return nil
}
