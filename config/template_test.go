package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestEditKeepsTheUsersLines(t *testing.T) {
	defaults, err := Template(&File{Values: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text, key, value string // value "" unsets
		want                   string // the edited text
	}{
		{name: "rewrite a set key", key: "port", value: "4000",
			text: "# my port, chosen for the VPN\nport = 3001\nhost = \"localhost\" # lan\n",
			want: "# my port, chosen for the VPN\nport = 4000\nhost = \"localhost\" # lan\n"},
		{name: "mend an invalid value", key: "port", value: "4000",
			text: "# mine\nport = 70000\n",
			want: "# mine\nport = 4000\n"},
		{name: "take the commented default", key: "log_level", value: "debug",
			text: "# note\n# log_level = \"info\"\nport = 1\n",
			want: "# note\nlog_level = \"debug\"\nport = 1\n"},
		{name: "append a key the file lacks", key: "cache_ttl", value: "60",
			text: "port = 1",
			want: "port = 1\ncache_ttl = 60\n"},
		{name: "unset back to the commented default", key: "port", value: "",
			text: "# mine\nport = 4000\nhost = \"::1\"\n",
			want: "# mine\n# port = 3000\nhost = \"::1\"\n"},
		{name: "unset a key that is not there", key: "port", value: "",
			text: "# only a comment\n",
			want: "# only a comment\n"},
		{name: "a quoted key is rewritten too", key: "host", value: "a.example",
			text: "\"host\" = 'b.example'\n",
			want: "host = \"a.example\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, err := Parse("config.toml", []byte(tt.text))
			if tt.name != "mend an invalid value" && err != nil {
				t.Fatal(err)
			}
			var text *string
			if tt.value != "" {
				text = &tt.value
			}
			next, err := cur.With(tt.key, text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Edit(cur, next, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}

	// The documented file cco writes keeps its documentation through edits.
	cur, _ := Parse("config.toml", defaults)
	v := "4000"
	next, _ := cur.With("port", &v)
	got, err := Edit(cur, next, "port")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(string(defaults), "# port = 3000\n", "port = 4000\n", 1); string(got) != want {
		t.Fatalf("editing the documented file:\n%s", got)
	}
}

// TestEditFallsBackToARender: a value on more than one line
// cannot be rewritten as one line; the whole file is rendered instead, and
// the result still holds exactly the new values.
func TestEditFallsBackToARender(t *testing.T) {
	cur, err := Parse("config.toml", []byte("host = \"\"\"\nlocalhost\"\"\"\nport = 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	v := "4000"
	next, _ := cur.With("port", &v)
	next2, _ := next.With("host", nil)
	got, err := Edit(cur, next2, "host")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("config.toml", got)
	if err != nil || len(back.Values) != 1 || back.Values["port"] != int64(4000) {
		t.Fatalf("fallback render parsed back to %v, %v:\n%s", back.Values, err, got)
	}
}

func TestEditNewFile(t *testing.T) {
	cur, _ := ReadFile(t.TempDir() + "/config.toml")
	v := "debug"
	next, _ := cur.With("log_level", &v)
	got, err := Edit(cur, next, "log_level")
	if err != nil {
		t.Fatal(err)
	}
	// A new file is the documented template: its header, every key, and
	// the one set.
	for _, line := range []string{
		"# Configuration of the CCO daemon: cco reads this file when the daemon starts\n",
		"\nlog_level = \"debug\"\n",
		"\n# port = 3000\n",
		"\n# health_check_interval = 30\n",
	} {
		if !strings.Contains(string(got), line) {
			t.Errorf("a new file lacks %q:\n%s", line, got)
		}
	}
}

// TestConfigRoundTrip writes keys with values that need quoting and loads
// the file back.
func TestConfigRoundTrip(t *testing.T) {
	f := &File{Values: map[string]any{"port": int64(4000), "auto_start": false, "database_url": `sqlite:///a "b" \c ü$.db`, "host": "localhost"}}
	data, err := Template(f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("config.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Values, f.Values) {
		t.Errorf("config.toml reads back %v, want %v", back.Values, f.Values)
	}
}

func BenchmarkTemplate(b *testing.B) {
	f := &File{Values: map[string]any{}}
	for b.Loop() {
		if _, err := Template(f); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTemplateKeepsTheDocText: a key's documentation is wrapped into
// comment lines without changing a character of it — two spaces after a
// full stop stay two spaces.
func TestTemplateKeepsTheDocText(t *testing.T) {
	k := Key{Name: "x", Kind: Int, Default: int64(1), Valid: "1-2",
		Doc: "First sentence.  Second  sentence, with two spaces."}
	out, err := configTemplate.Execute("config.toml.tmpl", struct{ Entries []TemplateEntry }{[]TemplateEntry{{Key: k}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "\n# First sentence.  Second  sentence, with two spaces.\n# Valid: 1-2. Environment: CCO_X.\n# x = 1\n"
	if !strings.HasSuffix(string(out), want) {
		t.Errorf("the key's block is\n%s\nwant it to end with\n%s", out, want)
	}
}
