// Command plasma runs plasma's demo and admin tasks.
//
//	plasma demo [-addr HOST:PORT] [-data DIR] [-cors ORIGINS]
//	        serve the example todo app (examples/todo) on embedded SQLite in DIR:
//	        POST /sync/push and /sync/pull (Replicache v1), and a page at / that
//	        explains and exercises them; auth is "Authorization: Bearer <userID>"
//	plasma migrate [-data DIR | -postgres URL] [-dry-run] [-json] [-allow STEP]...
//	        diff the example app's schema against its database and apply the
//	        additive changes (destructive ones only when allowed)
//	plasma schema [-data DIR | -postgres URL | -dialect sqlite|postgres]
//	        create the example app's missing tables and print its DDL
//	plasma pull [-data DIR | -sqlite FILE | -postgres URL] [-package NAME] [-o FILE] [-tables T1,T2] [-lossy]
//	        write Go source declaring an existing database's tables
//	plasma help
//	        list the commands
//
// Defaults: -addr 127.0.0.1:8080, -data ./plasma-data (the database file is
// DIR/plasma.db, shared by the three commands).
//
// Each subcommand lives in its own file and registers itself in commands.
// migrate, schema and pull are package migratecli, which any application's main
// can run on its own schema; here they run on the example's.
//
// Exit codes: 0 success, 1 failure (a refused migration included), 2 bad
// usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: run gets the arguments after its name; main,
// if set instead, gets them all and returns the exit code itself.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
	main    func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "plasma: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if cmd.main != nil {
		return cmd.main(ctx, args, stdout, stderr)
	}
	if err := cmd.run(ctx, args[1:], stdout); err != nil {
		fmt.Fprintf(stderr, "plasma %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: plasma <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
