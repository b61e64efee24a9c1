package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recorder is a Runner that records every command line and answers from a
// script: for each command line, the outputs to give in turn (the last one
// repeats); unscripted commands succeed silently.
type recorder struct {
	calls   []string
	answers map[string][]Output
}

func (r *recorder) Run(_ context.Context, name string, args ...string) (Output, error) {
	line := shellJoin(append([]string{name}, args...))
	r.calls = append(r.calls, line)
	outs := r.answers[line]
	if len(outs) == 0 {
		return Output{}, nil
	}
	out := outs[0]
	if len(outs) > 1 {
		r.answers[line] = outs[1:]
	}
	return out, nil
}

// answer scripts the outputs of one command line.
func (r *recorder) answer(line string, outs ...Output) {
	if r.answers == nil {
		r.answers = map[string][]Output{}
	}
	r.answers[line] = outs
}

// testEnv is a user "ada", uid 501, with a temporary home; the runner
// records.
func testEnv(t *testing.T) (Env, *recorder, *[]time.Duration) {
	t.Helper()
	home := t.TempDir()
	r := &recorder{}
	var slept []time.Duration
	vars := map[string]string{"HOME": home, "XDG_RUNTIME_DIR": "/run/user/501"}
	env := Env{
		Runner:    r,
		Getenv:    func(k string) string { return vars[k] },
		UID:       501,
		Username:  "ada",
		LingerDir: filepath.Join(home, "linger"),
		Sleep:     func(d time.Duration) { slept = append(slept, d) },
		// systemd runs this pretend machine, whatever runs this one.
		SystemdBooted: func() bool { return true },
	}
	return env, r, &slept
}

// setenv changes one variable of a testEnv.
func setenv(env *Env, key, value string) {
	get := env.Getenv
	env.Getenv = func(k string) string {
		if k == key {
			return value
		}
		return get(k)
	}
}

func wantCalls(t *testing.T, r *recorder, want ...string) {
	t.Helper()
	if strings.Join(r.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands run:\n  %s\nwant:\n  %s", strings.Join(r.calls, "\n  "), strings.Join(want, "\n  "))
	}
	r.calls = nil
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not say %q:\n%v", p, err)
		}
	}
}

func apply1(t *testing.T, m Manager, p Plan) []string {
	t.Helper()
	var done []string
	if err := m.Apply(context.Background(), p, func(s Step) { done = append(done, s.Done) }); err != nil {
		t.Fatal(err)
	}
	return done
}

func wantFile(t *testing.T, path, content string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != content {
		t.Errorf("%s = %q, want %q", path, b, content)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != fileMode {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), os.FileMode(fileMode))
	}
}
