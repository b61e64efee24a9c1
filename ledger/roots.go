package ledger

import "errors"

// Roots returns the transcript roots as Claude Code and ccusage find them.
func Roots(getenv func(string) string, home string, configured []string) ([]string, error) {
	return nil, errors.New("ledger: Roots not implemented yet")
}
