package render

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzEscaping: whatever a value holds, the unit and plist escapes either
// refuse it with an UnrepresentableError or give text that a parser reads
// back as exactly the value (the unit parser of consumers_test.go, Go's
// XML decoder for the plist). go test -fuzz FuzzEscaping ./render/
func FuzzEscaping(f *testing.F) {
	for _, s := range []string{hostileHome, hostileUnitExec, hostilePlistExec, "", "%h", "$$", `\"`, "a\nb", "\xff", "\u0085", "]]>", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var bad *UnrepresentableError
		if env, err := unitEnv("CCO_HOME", s); err == nil {
			if got := unitWords(t, env, -1); !reflect.DeepEqual(got, []string{"CCO_HOME=" + s}) {
				t.Errorf("Environment=%s reads back as %q, want CCO_HOME=%q", env, got, s)
			}
		} else if !errors.As(err, &bad) {
			t.Errorf("unitEnv(%q): %v", s, err)
		}
		exe := "/" + s
		if cmd, err := unitCommand(exe); err == nil {
			if path, argv := execStart(t, cmd+" daemon run"); path != exe || !reflect.DeepEqual(argv, []string{exe, "daemon", "run"}) {
				t.Errorf("ExecStart=%s daemon run runs %q with %q, want %q", cmd, path, argv, exe)
			}
		} else if !errors.As(err, &bad) {
			t.Errorf("unitCommand(%q): %v", exe, err)
		}
		if text, err := xmlText(s); err == nil {
			var got string
			if err := xml.Unmarshal([]byte("<string>"+text+"</string>"), &got); err != nil || got != s {
				t.Errorf("<string>%s</string> reads back as %q, %v; want %q", text, got, err, s)
			}
		} else if !errors.As(err, &bad) || !strings.Contains(err.Error(), bad.Reason) {
			t.Errorf("xmlText(%q): %v", s, err)
		}
	})
}
