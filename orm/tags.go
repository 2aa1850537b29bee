package orm

import (
	"reflect"
	"strings"
)

// fieldTag is what a struct field's tags say about its column, so that
// models written for database/sql libraries, GORM or bun scan and write
// unchanged. The first tag that decides wins, in this order:
//
//  1. `db:"name"` names the column, `db:"-"` leaves the field out;
//  2. `gorm:"column:name"` names it; `gorm:"-"` and `gorm:"-:all"` leave
//     it out, as do GORM's relation settings (foreignKey, references,
//     many2many, polymorphic, joinForeignKey, joinReferences);
//     `gorm:"embedded"` (with embeddedPrefix) promotes a struct's fields;
//  3. bun's first tag part names the column unless it is empty or one of
//     bun's options (`bun:"name,pk"`; a `column:name` option names it
//     too); `bun:"-"` and relations (rel:, m2m:) leave it out;
//     `bun:"embed:prefix_"` promotes a struct's fields.
//
// A tag that decides nothing (`gorm:"primaryKey"`, `bun:",pk"`, a db tag
// with only options) passes to the next one, and with none the field's
// name in snake_case is the column.
//
// A field GORM may only read (`gorm:"->"`, `gorm:"<-:false"`) or bun only
// scans (`bun:",scanonly"`) is scanned but never written, whichever tag
// names its column; `gorm:"->:false;<-:false"` is no column at all.
type fieldTag struct {
	name     string // the column, when a tag names it
	skip     bool   // not a column
	embed    bool   // a struct whose fields are columns
	prefix   string // put before an embedded struct's column names
	readOnly bool   // scanned, never written
}

// decided reports whether the tag settles the field's column.
func (t fieldTag) decided() bool { return t.skip || t.embed || t.name != "" }

// tagOf reads the column tags of f.
func tagOf(f reflect.StructField) fieldTag {
	t := columnTag(f)
	if t.skip {
		return t
	}
	gorm, hasGorm := f.Tag.Lookup("gorm")
	bun, hasBun := f.Tag.Lookup("bun")
	read, write := true, true
	if hasGorm {
		read, write = gormAccess(gorm)
	}
	if hasBun && bunScanOnly(bun) {
		write = false
	}
	if !read && !write {
		return fieldTag{skip: true}
	}
	t.readOnly = !write
	return t
}

// columnTag finds f's column: the first of its db, gorm and bun tags
// that decides it.
func columnTag(f reflect.StructField) fieldTag {
	if tag, ok := f.Tag.Lookup("db"); ok {
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			return fieldTag{skip: true}
		}
		if name != "" {
			return fieldTag{name: name}
		}
	}
	if tag, ok := f.Tag.Lookup("gorm"); ok {
		if t := gormTag(tag); t.decided() {
			return t
		}
	}
	if tag, ok := f.Tag.Lookup("bun"); ok {
		if t := bunTag(tag); t.decided() {
			return t
		}
	}
	return fieldTag{}
}

// gormAccess reads GORM's field permissions: "->" makes a field read-only
// ("->:false" unreadable too), and a later "<-" makes it writable again
// ("<-:false" not). "<-:create" and "<-:update" count as writable: plasma
// has one write plan for inserts and updates.
func gormAccess(tag string) (read, write bool) {
	read, write = true, true
	for _, part := range strings.Split(tag, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
		v = strings.ToLower(strings.TrimSpace(v))
		switch strings.TrimSpace(k) {
		case "->":
			write = false
			read = v != "false"
		case "<-":
			write = v != "false"
		}
	}
	return read, write
}

// bunScanOnly reports whether a bun tag has the scanonly option.
func bunScanOnly(tag string) bool {
	for _, part := range strings.Split(tag, ",")[1:] {
		if strings.TrimSpace(part) == "scanonly" {
			return true
		}
	}
	return false
}

// gormTag reads a gorm tag: settings separated by ';', each a key
// (matched without regard to case, as GORM does) and an optional ':value'.
func gormTag(tag string) fieldTag {
	var t fieldTag
	for _, part := range strings.Split(tag, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
		v = strings.TrimSpace(v)
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "-":
			// "-" and "-:all" leave the field out; "-:migration" only
			// keeps it out of GORM's AutoMigrate, so it is a column.
			if v == "" || strings.EqualFold(v, "all") || v == "-" {
				return fieldTag{skip: true}
			}
		case "FOREIGNKEY", "REFERENCES", "MANY2MANY", "POLYMORPHIC", "JOINFOREIGNKEY", "JOINREFERENCES":
			return fieldTag{skip: true} // a relation, not a column
		case "COLUMN":
			t.name = v
		case "EMBEDDED":
			t.embed = true
		case "EMBEDDEDPREFIX":
			t.prefix = v
		}
	}
	if t.embed {
		t.name = ""
	} else {
		t.prefix = ""
	}
	return t
}

// bunTag reads a bun tag: the column's name first, then options
// separated by ',', each a key and an optional ':value'.
func bunTag(tag string) fieldTag {
	if strings.TrimSpace(tag) == "-" {
		return fieldTag{skip: true}
	}
	parts := strings.Split(tag, ",")
	var t fieldTag
	if first := strings.TrimSpace(parts[0]); first != "" && !strings.Contains(first, ":") && !bunOption(first) {
		t.name = first
	}
	for _, part := range parts {
		k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
		switch k {
		case "rel", "m2m":
			return fieldTag{skip: true} // a relation, not a column
		case "embed":
			return fieldTag{embed: true, prefix: v}
		case "column":
			t.name = v
		}
	}
	return t
}

// bunOption reports whether s is one of bun's field options, which bun
// reads as a name only by mistake (it warns): `bun:"pk"` does not name a
// column "pk" here.
func bunOption(s string) bool {
	switch s {
	case "column", "alt", "type", "array", "hstore", "composite", "multirange", "json_use_number",
		"msgpack", "notnull", "nullzero", "default", "unique", "soft_delete", "scanonly", "skipupdate",
		"pk", "autoincrement", "rel", "join", "join_on", "on_update", "on_delete", "m2m", "polymorphic",
		"identity", "embed", "extend", "inherit", "table", "alias", "select":
		return true
	}
	return false
}
