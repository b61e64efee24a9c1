package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/protocol"
)

// notApplied says how a start's settings differ from those of the daemon
// already running, which a start does not change: the address it serves on
// (known from its state file), and the flags given, which only a restart
// applies. "" when there is nothing to say.
func notApplied(eff *config.Effective, overrides config.Overrides, running *protocol.State) string {
	var diffs []string
	if running != nil {
		if eff.Port != running.Port {
			diffs = append(diffs, fmt.Sprintf("port %d (asked: %d)", running.Port, eff.Port))
		}
		if eff.Host != running.Host {
			diffs = append(diffs, fmt.Sprintf("host %s (asked: %s)", running.Host, eff.Host))
		}
	}
	var flags []string
	for key, value := range overrides {
		if (key == "port" || key == "host") && len(diffs) == 0 && running != nil {
			continue // the running daemon has it already
		}
		flags = append(flags, "--"+config.FlagName(key)+" "+value)
	}
	sort.Strings(flags)
	switch {
	case len(diffs) > 0:
		return fmt.Sprintf("it runs with other settings: %s; `cco daemon restart%s` applies them", strings.Join(diffs, ", "), flagWords(flags))
	case len(flags) > 0:
		return fmt.Sprintf("a running daemon keeps its settings: %s applies only at a restart (`cco daemon restart%s`)", strings.Join(flags, " "), flagWords(flags))
	}
	return ""
}

func flagWords(flags []string) string {
	if len(flags) == 0 {
		return ""
	}
	return " " + strings.Join(flags, " ")
}
