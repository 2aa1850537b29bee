package schemagen

import (
	"fmt"
	"go/format"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// render writes the declarations as a gofmt-ed Go file.
func (g *gen) render() ([]byte, error) {
	names := goNames(g.tables)
	var body strings.Builder
	uses := map[string]bool{}
	var vars []string
	for _, td := range g.tables {
		if td.skip {
			notes := append([]string{fmt.Sprintf("Table %s is not declared:", strconv.Quote(td.live.Name))}, td.notes...)
			comment(&body, "", notes)
			body.WriteString("\n")
			continue
		}
		name := names[td]
		vars = append(vars, name)
		g.renderTable(&body, td, name, uses)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// This file declares the tables of a %s database with plasma's schema\n", g.live.Dialect)
	b.WriteString("// DSL, as plasma pull (orm/migrate/schemagen) read them. It is yours to edit.\n")
	if len(g.problems) > 0 {
		b.WriteString("//\n")
		comment(&b, "", []string{fmt.Sprintf("The database has %d thing(s) this declaration cannot say: the comments "+
			"where each was left out or changed say what. migrate.Diff reports the differences, and migrate.Run "+
			"refuses the destructive ones.", len(g.problems))})
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "package %s\n\nimport (\n", g.opts.Package)
	if uses["json"] {
		b.WriteString("\t\"encoding/json\"\n\n")
	}
	b.WriteString("\t\"github.com/plasma-go/plasma/orm\"\n")
	if uses["tabledef"] {
		b.WriteString("\t\"github.com/plasma-go/plasma/tabledef\"\n")
	}
	b.WriteString(")\n\n")
	b.WriteString(body.String())
	fmt.Fprintf(&b, "// Schema declares the tables above, version %s.\n", strconv.Quote(g.opts.Version))
	fmt.Fprintf(&b, "var Schema = orm.MustDefineSchema(%s, %s)\n", strconv.Quote(g.opts.Version), strings.Join(vars, ", "))
	src, err := format.Source([]byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("plasma: schemagen: generated source does not parse: %w", err) // a bug here, never the database's
	}
	return src, nil
}

func (g *gen) renderTable(b *strings.Builder, td *tableDecl, name string, uses map[string]bool) {
	doc := fmt.Sprintf("%s is the table %s.", name, strconv.Quote(td.live.Name))
	if !td.synced {
		doc += " It is External, mapped but not synced: a synced table's key is one text column, orm.ID()."
	}
	comment(b, "", []string{doc})
	if len(td.notes) > 0 {
		b.WriteString("//\n")
		comment(b, "", td.notes)
	}
	fmt.Fprintf(b, "var %s = orm.NewTable(%s,\n", name, strconv.Quote(td.live.Name))
	for _, c := range td.cols {
		if c.skip {
			comment(b, "\t", append([]string{fmt.Sprintf("Column %s is not declared:", strconv.Quote(c.name))}, c.notes...))
			continue
		}
		comment(b, "\t", c.notes)
		fmt.Fprintf(b, "\t%s%s,\n", c.src, c.ref)
		uses["json"] = uses["json"] || strings.Contains(c.src, "json.RawMessage(")
		uses["tabledef"] = uses["tabledef"] || c.ref != ""
	}
	b.WriteString(")")
	opts := td.options()
	if opts.External || len(opts.Indexes) > 0 {
		b.WriteString(".With(orm.TableOptions{\n")
		if opts.External {
			b.WriteString("\tExternal: true,\n")
		}
		if len(opts.Indexes) > 0 {
			b.WriteString("\tIndexes: []orm.Index{\n")
			for _, ix := range opts.Indexes {
				cols := make([]string, len(ix.Columns))
				for i, c := range ix.Columns {
					cols[i] = strconv.Quote(c)
				}
				fmt.Fprintf(b, "\t\t{Name: %s, Columns: []string{%s}", strconv.Quote(ix.Name), strings.Join(cols, ", "))
				if ix.Unique {
					b.WriteString(", Unique: true")
				}
				b.WriteString("},\n")
			}
			b.WriteString("\t},\n")
		}
		b.WriteString("})")
	}
	b.WriteString("\n\n")
}

// comment writes notes as line comments, wrapped. Notes quote names
// from the database with %q, and control characters and invalid UTF-8
// are replaced besides, so no note breaks out of its comment.
func comment(b *strings.Builder, indent string, notes []string) {
	for _, n := range notes {
		n = strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' {
				return ' '
			}
			return r
		}, strings.ToValidUTF8(n, "\uFFFD"))
		line := 0
		for i, w := range strings.Fields(n) {
			switch {
			case i == 0:
				b.WriteString(indent + "//")
			case line+1+len(w) > wrapAt:
				b.WriteString("\n" + indent + "//")
				line = 0
			}
			b.WriteString(" " + w)
			line += 1 + len(w)
		}
		b.WriteString("\n")
	}
}

// wrapAt is the width comments wrap at, indentation aside.
const wrapAt = 72

// goNames gives each declared table an exported Go name, unique in the
// file and never "Schema".
func goNames(tables []*tableDecl) map[*tableDecl]string {
	used := map[string]bool{"Schema": true}
	out := map[*tableDecl]string{}
	for _, td := range tables {
		if td.skip {
			continue
		}
		base := goName(td.live.Name)
		name := base
		for i := 2; used[name]; i++ {
			name = base + strconv.Itoa(i)
		}
		used[name] = true
		out[td] = name
	}
	return out
}

// goName converts a table name to an exported Go identifier: the letters
// and digits of each word, the word capitalised (order_items →
// OrderItems). A name that does not then start with an upper-case letter
// gets the prefix "T".
func goName(table string) string {
	var b strings.Builder
	upper := true
	for _, r := range table {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	n := b.String()
	if r, _ := utf8.DecodeRuneInString(n); unicode.IsUpper(r) {
		return n
	}
	return "T" + n
}
