package corosync_test

import (
	"bytes"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestPublicDocsStayPublic guards the rule that the public documentation
// never sends a user into internal/ or outside the module: for every
// package a user can import (everything but internal/, cmd/, examples/ and
// testdata), the package doc, every exported declaration as go doc renders
// it, and every doc comment on it (types, funcs, methods, consts, vars,
// struct fields, interface methods) must not mention "internal/", a path
// out of the module ("../"), a SPEC.md (they all are under internal/), or an identifier of one of the module's
// internal packages (session.ErrClosed, cfgwire.MaxLinks, ...).
func TestPublicDocsStayPublic(t *testing.T) {
	internalNames := internalPackageNames(t)
	pkgs := publicPackageDirs(t)
	if len(pkgs) < 10 {
		t.Fatalf("found only %d public packages (%v): the walk is broken", len(pkgs), pkgs)
	}
	checked := 0
	for _, dir := range pkgs {
		for _, f := range publicDocFindings(t, dir, internalNames) {
			t.Errorf("package ./%s: %s", filepath.ToSlash(dir), f)
		}
		checked++
	}
	t.Logf("checked %d packages", checked)
}

// TestMarkdownLinksStayInModule checks the links of README.md and docs/*.md:
// none leads into internal/ or out of the module, and each relative one
// names a file or directory of the module.
func TestMarkdownLinksStayInModule(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "README.md")
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			rel := filepath.Join(filepath.Dir(f), filepath.FromSlash(target))
			switch {
			case filepath.IsAbs(target) || strings.HasPrefix(filepath.ToSlash(rel), "../") || rel == "..":
				t.Errorf("%s links out of the module: %s", f, m[1])
			case strings.HasPrefix(filepath.ToSlash(rel), "internal/") || strings.Contains(filepath.ToSlash(rel), "/internal/"):
				t.Errorf("%s links into internal/: %s", f, m[1])
			default:
				if _, err := os.Stat(rel); err != nil {
					t.Errorf("%s links to a missing file: %s", f, m[1])
				}
			}
		}
	}
}

// TestPublicDocsGuardCatches feeds the guard a package that breaks the rule
// in each way it looks for, so a guard that finds nothing cannot pass.
func TestPublicDocsGuardCatches(t *testing.T) {
	dir := t.TempDir()
	src := `// Package bad is measured in internal/wire/cpgwire/SPEC.md.
package bad

import (
	"errors"

	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// MaxLinks is cfgwire.MaxLinks.
const MaxLinks = cfgwire.MaxLinks

// ErrX is fine.
var ErrX = errors.New("x")

// T is fine.
type T struct {
	// F: see ../shared/spec/cfg.md.
	F int
	g int // internal/ is not looked at here: g is unexported
}

// M is fine; its signature is not.
func (T) M() cfgwire.Flags { return 0 }

// Quiet mentions session.ErrClosed.
func Quiet() {}

// Prose may say "on the wire." without a finding.
func Wire() {}
`
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(publicDocFindings(t, dir, map[string]bool{"session": true, "cfgwire": true, "wire": true}), "\n")
	for _, want := range []string{
		"package doc",
		"const MaxLinks = cfgwire.MaxLinks",
		"MaxLinks is cfgwire.MaxLinks",
		"../shared",
		"func (T) M() cfgwire.Flags",
		"session.ErrClosed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("guard missed %q; it found:\n%s", want, got)
		}
	}
	for _, wrong := range []string{"on the wire", "unexported"} {
		if strings.Contains(got, wrong) {
			t.Errorf("guard flagged %q; it found:\n%s", wrong, got)
		}
	}
}

// publicPackageDirs lists the module's directories holding an importable
// package, relative to the module root (this directory).
func publicPackageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		base := d.Name()
		if p != "." && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") || base == "testdata" || base == "vendor") {
			return filepath.SkipDir
		}
		switch filepath.ToSlash(p) {
		case "internal", "cmd", "examples":
			return filepath.SkipDir
		}
		if p != "." {
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		if len(goSources(t, p)) > 0 {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// internalPackageNames returns the package names declared under internal/.
func internalPackageNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir("internal", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		if f.Name.Name != "main" {
			names[f.Name.Name] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 5 {
		t.Fatalf("found only internal packages %v: the walk is broken", names)
	}
	return names
}

// goSources lists the non-test Go files of dir.
func goSources(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			files = append(files, filepath.Join(dir, n))
		}
	}
	return files
}

// publicDocFindings parses the package in dir as go doc shows it (exported
// declarations only) and returns each rendered declaration or doc comment
// that breaks the rule, with what it matched.
func publicDocFindings(t *testing.T, dir string, internalNames map[string]bool) []string {
	t.Helper()
	fset := token.NewFileSet()
	byPkg := map[string][]*ast.File{}
	// The identifiers of internal packages a declaration can use: the local
	// names of the package's imports whose path has an internal element.
	imported := map[string]bool{}
	for _, name := range goSources(t, dir) {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p, "/internal/") && !strings.HasSuffix(p, "/internal") {
				continue
			}
			local := path.Base(p)
			if imp.Name != nil {
				local = imp.Name.Name
			} else if pf := internalPackageClause(t, p); pf != "" {
				local = pf
			}
			imported[local] = true
		}
		byPkg[f.Name.Name] = append(byPkg[f.Name.Name], f)
	}
	declRE := identRE(imported, false)
	// In prose a package name followed by a dot ends a sentence ("on the
	// wire."); an identifier is a name, a dot and an exported name.
	all := map[string]bool{}
	for n := range internalNames {
		all[n] = true
	}
	for n := range imported {
		all[n] = true
	}
	commentRE := identRE(all, true)

	var out []string
	checkText := func(what, text string, re *regexp.Regexp) {
		var hits []string
		if strings.Contains(text, "internal/") {
			hits = append(hits, `"internal/"`)
		}
		if strings.Contains(text, "../") {
			hits = append(hits, `"../"`)
		}
		if strings.Contains(text, "SPEC.md") { // every SPEC.md is under internal/
			hits = append(hits, `"SPEC.md"`)
		}
		if re != nil {
			for _, m := range re.FindAllString(text, -1) {
				hits = append(hits, strconv.Quote(m))
			}
		}
		if len(hits) > 0 {
			out = append(out, what+" mentions "+strings.Join(hits, ", ")+" in:\n\t"+strings.Join(hitLines(text, re), "\n\t"))
		}
	}
	checkComment := func(what string, cg *ast.CommentGroup) {
		if cg != nil {
			checkText(what, cg.Text(), commentRE)
		}
	}
	render := func(n ast.Node) string {
		var b bytes.Buffer
		if err := printer.Fprint(&b, fset, n); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	checkDecl := func(what string, n ast.Node) {
		checkText(what+" declaration", render(n), declRE)
		// The comments go doc shows with it: on the specs, fields and
		// interface methods that survived the filtering of unexported names.
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				checkComment(what+" comment", n.Doc)
				checkComment(what+" comment", n.Comment)
			case *ast.TypeSpec:
				checkComment(what+" comment", n.Doc)
				checkComment(what+" comment", n.Comment)
			case *ast.Field:
				checkComment(what+" field comment", n.Doc)
				checkComment(what+" field comment", n.Comment)
			case *ast.FuncLit, *ast.BlockStmt:
				return false
			}
			return true
		})
	}
	checkFunc := func(f *doc.Func) {
		checkText(f.Name+" doc", f.Doc, commentRE)
		d := *f.Decl
		d.Body = nil
		d.Doc = nil
		checkDecl(f.Name, &d)
	}
	checkValues := func(vs []*doc.Value) {
		for _, v := range vs {
			what := strings.Join(v.Names, ", ")
			checkText(what+" doc", v.Doc, commentRE)
			d := *v.Decl
			d.Doc = nil
			checkDecl(what, &d)
		}
	}

	names := make([]string, 0, len(byPkg))
	for n := range byPkg {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "main" {
			continue
		}
		p, err := doc.NewFromFiles(fset, byPkg[name], "github.com/corosync-go/corosync/"+filepath.ToSlash(dir))
		if err != nil {
			t.Fatal(err)
		}
		checkText("package doc", p.Doc, commentRE)
		checkValues(p.Consts)
		checkValues(p.Vars)
		for _, f := range p.Funcs {
			checkFunc(f)
		}
		for _, ty := range p.Types {
			checkText(ty.Name+" doc", ty.Doc, commentRE)
			d := *ty.Decl
			d.Doc = nil
			checkDecl("type "+ty.Name, &d)
			checkValues(ty.Consts)
			checkValues(ty.Vars)
			for _, f := range ty.Funcs {
				checkFunc(f)
			}
			for _, m := range ty.Methods {
				checkFunc(m)
			}
		}
	}
	return out
}

// internalPackageClause returns the package name declared in the module's
// directory for import path p, or "" when p is not in this module.
func internalPackageClause(t *testing.T, p string) string {
	t.Helper()
	const mod = "github.com/corosync-go/corosync/"
	if !strings.HasPrefix(p, mod) {
		return ""
	}
	for _, f := range goSources(t, filepath.FromSlash(strings.TrimPrefix(p, mod))) {
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err == nil && pf.Name.Name != "main" {
			return pf.Name.Name
		}
	}
	return ""
}

// identRE matches a qualified identifier of one of the packages in names
// ("session.ErrClosed"); exported requires the selector to be exported.
func identRE(names map[string]bool, exported bool) *regexp.Regexp {
	if len(names) == 0 {
		return nil
	}
	q := make([]string, 0, len(names))
	for n := range names {
		q = append(q, regexp.QuoteMeta(n))
	}
	sort.Strings(q)
	sel := `[A-Za-z_]`
	if exported {
		sel = `[A-Z]`
	}
	return regexp.MustCompile(`\b(?:` + strings.Join(q, "|") + `)\.` + sel + `\w*`)
}

// hitLines returns the lines of text that break the rule.
func hitLines(text string, re *regexp.Regexp) []string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "internal/") || strings.Contains(l, "../") || strings.Contains(l, "SPEC.md") || (re != nil && re.MatchString(l)) {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}
