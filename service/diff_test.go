package service

import (
	"bytes"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"new file", "", "a\nb\n", "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"one line changed", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve\n",
			"--- old\n+++ new\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n"},
		{"no final newline", "a\nb", "a\nb\n", "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
		{"removed", "a\nb\nc\n", "a\nc\n", "--- old\n+++ new\n@@ -1,3 +1,2 @@\n a\n-b\n c\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff("old", "new", []byte(tc.old), []byte(tc.new)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	m, _, _ := newTestSystemd(t)
	var b bytes.Buffer
	m.Install(State{Content: []byte("a\nb\n")}, []byte("a\nc\n"), InstallOptions{AutoStart: true}).Describe(&b)
	want := "would write " + m.Path() + " (mode 0644):\n    a\n    c\n" +
		"diff against the installed file:\n--- " + m.Path() + " (installed)\n+++ " + m.Path() + " (new)\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n" +
		"would run: systemctl --user daemon-reload\nwould run: systemctl --user enable cco-daemon.service\nwould run: systemctl --user reset-failed cco-daemon.service\nwould run: systemctl --user start cco-daemon.service\n" +
		"note: lingering is off for ada, so systemd stops the daemon when you log out; to keep it running: loginctl enable-linger ada\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	m.Install(State{Content: []byte("a\n"), Enabled: true, Active: true}, []byte("a\n"), InstallOptions{AutoStart: true}).Describe(&b)
	if !strings.HasPrefix(b.String(), "cco-daemon.service is up to date: nothing to do\n") {
		t.Errorf("got %s", b.String())
	}
}
