package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/docs"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/internal/tooltest"
)

// completionCases are partial command lines and every candidate a Tab at
// their end must offer, in any order.
func completionCases() []struct {
	line string
	want []string
} {
	logLevel, _ := config.Lookup("log_level")
	return []struct {
		line string
		want []string
	}{
		{"cco da", []string{"daemon", "dashboard"}},
		{"cco dashboard --n", []string{"--no-open"}},
		{"cco daemon st", []string{"start", "status", "stop"}},
		{"cco daemon config u", []string{"unset"}},
		{"cco daemon install --os ", []string{"darwin", "linux"}},
		{"cco daemon render --os l", []string{"linux"}},
		{"cco daemon start --log-level ", logLevel.Enum},
		{"cco daemon config set ", config.KeyNames()},
		// The value of config set, for keys with a few values.
		{"cco daemon config set log_level ", logLevel.Enum},
		{"cco daemon config set auto_start ", []string{"false", "true"}},
		// help completes the commands under what it was given.
		{"cco help da", []string{"daemon", "dashboard"}},
		{"cco help daemon con", []string{"config"}},
		{"cco help daemon config s", []string{"set", "show"}},
		{"cco daemon config get log_", []string{"log_level", "log_max_files", "log_rotation_size"}},
		{"cco completion ", docs.Shells},
		// Hidden flags (--completion-bash, --help-long, --help-man, …) are
		// never offered.
		{"cco -", []string{"--help", "--version"}},
		{"cco daemon logs --", []string{"--help", "--version", "--lines", "--follow", "--since", "--until", "--level"}},
		{"cco daemon logs --level=", []string{"debug", "info", "warn", "error"}},
		{"cco daemon start --l", []string{"--log-level"}},
		// --flag=value completes the value.
		{"cco daemon install --os=", []string{"darwin", "linux"}},
		{"cco daemon start --log-level=d", []string{"debug"}},
	}
}

// TestCompletionInShells types each case into bash (with bash-completion),
// zsh (compinit, the script autoloaded from fpath or sourced) and fish, with
// the scripts make generate writes and the cco built from this tree.
func TestCompletionInShells(t *testing.T) {
	bash := tooltest.Need(t, "bash", "bash")
	bashCompletion := tooltest.NeedFile(t, "/usr/share/bash-completion/bash_completion", "bash-completion")
	zsh := tooltest.Need(t, "zsh", "zsh")
	fish := tooltest.Need(t, "fish", "fish")
	scripts := writeTemp(t)
	script := func(shell string) string { return filepath.Join(scripts, docs.CompletionFile(shell)) }
	path := testhost.CCODir(t) + string(os.PathListSeparator) + os.Getenv("PATH")
	zshDriver, err := filepath.Abs("testdata/complete.zsh")
	if err != nil {
		t.Fatal(err)
	}

	// A Tab press must not touch cco's files: CCO_HOME must stay missing.
	ccoHome := filepath.Join(t.TempDir(), "cco-home")
	run := func(cmd *exec.Cmd) (string, error) {
		cmd.Env = append(os.Environ(), "PATH="+path, "CCO_HOME="+ccoHome)
		out, err := cmd.Output()
		return string(out), err
	}
	// zsh prints the matches into a file: its terminal is a pseudo-tty.
	zshRun := func(before, after, line string) (string, error) {
		matches := filepath.Join(t.TempDir(), "matches")
		if _, err := run(exec.Command(zsh, "-f", zshDriver, before, after, matches, line)); err != nil {
			return "", err
		}
		out, err := os.ReadFile(matches)
		if os.IsNotExist(err) {
			return "", nil
		}
		return string(out), err
	}
	shells := map[string]func(line string) (string, error){
		"bash": func(line string) (string, error) {
			return run(exec.Command(bash, "--norc", "--noprofile", "-c", `
				source "$1" && source "$2" || exit 1
				COMP_LINE=$3 COMP_POINT=${#3}
				read -ra typed <<<"$COMP_LINE"
				[[ $COMP_LINE == *' ' ]] && typed+=('')
				# readline splits words at "=" too (COMP_WORDBREAKS).
				COMP_WORDS=()
				for w in "${typed[@]}"; do
					if [[ $w == --*=* ]]; then
						COMP_WORDS+=("${w%%=*}" =)
						[[ -n ${w#*=} ]] && COMP_WORDS+=("${w#*=}")
					else
						COMP_WORDS+=("$w")
					fi
				done
				COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
				_cco cco "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
				printf '%s\n' "${COMPREPLY[@]}"`, "bash", bashCompletion, script("bash"), line))
		},
		"zsh autoloaded": func(line string) (string, error) {
			return zshRun("fpath=("+filepath.Dir(script("zsh"))+" $fpath)", "", line)
		},
		"zsh sourced": func(line string) (string, error) {
			return zshRun("", "source "+script("zsh"), line)
		},
		"fish": func(line string) (string, error) {
			out, err := run(exec.Command(fish, "--no-config", "-c", `source $argv[1]; and complete -C $argv[2]`, script("fish"), line))
			// fish offers whole tokens: --os=linux where the others offer
			// what follows the "=".
			words := strings.Fields(line)
			if flag, _, ok := strings.Cut(words[len(words)-1], "="); ok && strings.HasSuffix(line, words[len(words)-1]) {
				out = strings.ReplaceAll(out, flag+"=", "")
			}
			return out, err
		},
	}
	for name, complete := range shells {
		t.Run(name, func(t *testing.T) {
			for _, c := range completionCases() {
				out, err := complete(c.line)
				if err != nil {
					t.Errorf("%q: %v", c.line, err)
					continue
				}
				got := candidates(out)
				want := slices.Sorted(slices.Values(c.want))
				if !slices.Equal(got, want) {
					t.Errorf("%q<Tab> offers %q, want %q", c.line, got, want)
				}
			}
		})
	}
	if _, err := os.Stat(ccoHome); !os.IsNotExist(err) {
		t.Errorf("completing created CCO_HOME (%v)", err)
	}
}

// candidates are the sorted first fields of out's lines (fish adds a
// description after a tab).
func candidates(out string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if f, _, _ := strings.Cut(line, "\t"); f != "" {
			got = append(got, f)
		}
	}
	slices.Sort(got)
	return got
}

// TestCompletionDescriptionsInFish: fish shows each command's and flag's
// help beside it.
func TestCompletionDescriptionsInFish(t *testing.T) {
	fish := tooltest.Need(t, "fish", "fish")
	scripts := writeTemp(t)
	cmd := exec.Command(fish, "--no-config", "-c", `source $argv[1]; and complete -C $argv[2]`, filepath.Join(scripts, docs.CompletionFile("fish")), "cco daemon st")
	cmd.Env = append(os.Environ(), "PATH="+testhost.CCODir(t)+string(os.PathListSeparator)+os.Getenv("PATH"), "CCO_HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"start\tStart the daemon in the background and wait until it serves", "stop\tStop the daemon: SIGTERM, then SIGKILL after the timeout"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("fish offers\n%s\nwithout %q", out, want)
		}
	}
}
