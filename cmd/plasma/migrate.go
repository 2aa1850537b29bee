package main

import (
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm/migrate/migratecli"
)

// exampleCLI is the migrate and schema commands, on the example app's
// schema: what an application's own main does with its schema; and pull,
// which needs no schema.
var exampleCLI = migratecli.Command{Schema: todo.Schema, Name: "plasma"}

func init() {
	commands["migrate"] = command{
		summary: "diff the example app's schema against its database and apply the additive changes",
		main:    exampleCLI.Run,
	}
	commands["pull"] = command{
		summary: "write Go source declaring an existing database's tables (drizzle-kit pull)",
		main:    exampleCLI.Run,
	}
	commands["schema"] = command{
		summary: "create the example app's tables and print its DDL (-dialect: print only)",
		main:    exampleCLI.Run,
	}
}
