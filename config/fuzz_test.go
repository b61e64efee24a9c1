package config

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the config loader: it must never panic,
// and whatever it accepts must be a valid configuration.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", seedExample, "port = 70000\n", "prot = 1\n", "host = \n", "[server]\nport=1\n",
		"port = \"3000\"\n", "a.b.c = 1\n", "port = 1\nport = 2\n", "\"port\" = 4000\n",
		"host = \"\\u0000\"\n", "x = [[1]]\n", "[[port]]\n", "port = 0x10\n", "log_level = '''\ndebug'''\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		file, err := Parse("config.toml", []byte(doc))
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if verr := Validate(file.Config()); verr != nil {
			t.Fatalf("accepted %q but it does not validate: %v", doc, verr)
		}
	})
}
