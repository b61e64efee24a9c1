package testhost

import (
	"os"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// ScriptCmds are the testscript commands every package's scripts share.
var ScriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"cmpmode": CmpMode,
}

// CmpMode is the testscript command `cmpmode PATH MODE`: PATH (not
// followed if it is a symlink) has exactly the permission bits MODE, in
// octal, as chezmoi's scripts check them.
func CmpMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpmode PATH MODE")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("cmpmode: mode %q is not octal", args[1])
	}
	fi, err := os.Lstat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fi.Mode().Perm()
	if (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %04o; want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}
