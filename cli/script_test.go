package cli_test

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/anthropics/cco/cli"
	"github.com/anthropics/cco/internal/testhost"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cco": func() { os.Exit(cli.Main(os.Args[1:], cli.OSEnv())) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: cco as a user
// types it, with a temporary HOME and CCO_HOME.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir+"/home")
			env.Setenv("CCO_HOME", env.WorkDir+"/home/.cco")
			env.Setenv("COLUMNS", "80")
			env.Setenv("CCO_TEST_SYSTEMD_BOOTED", "1")
			return nil
		},
		Cmds: testhost.ScriptCmds,
	})
}
