// Package docs holds plasma's user documentation: the Markdown guides in
// this folder, starting with capabilities.md, which lists every capability
// once and links to the guide that explains it.
//
// The package has no API. Its test (docs_test.go) extracts every fenced
// ```go block of every guide, compiles them all into one program and runs
// each, comparing what it prints with its trailing "// Output:" comment,
// so a guide fails the build when the API it shows changes.
package docs
