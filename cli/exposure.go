package cli

import (
	"fmt"
	"net"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/protocol"
)

// exposed reports whether addr (host:port, "" when unknown), where the
// daemon listens, is one other machines can reach. The daemon names its
// address as an IP in the state file, so no name is looked up.
func exposed(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && !config.Loopback(host)
}

// warnExposed warns on stderr, at start, of a daemon (which wrote s) that
// listens on an address other machines can reach.
func warnExposed(e *Env, s *protocol.State) {
	if s != nil && exposed(s.Addr()) {
		fmt.Fprintln(e.Stderr, "cco: warning: "+config.ExposedWarning(s.Addr()))
	}
}
