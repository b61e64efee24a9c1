package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// Problem is one thing wrong with a configuration: `key: value: what is
// wrong`, prefixed by where the value came from when that is known.
type Problem struct {
	Where string // "config.toml:3", "CCO_PORT", "--port"; empty for a computed value
	Key   string
	Value string // as the user would see it: strings quoted
	Msg   string
	// About is the key of the file the problem is about, a known key or an
	// unknown one (whose Key is empty: the message names it).
	About string
}

func (p *Problem) Error() string {
	var b strings.Builder
	if p.Where != "" {
		b.WriteString(p.Where + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	if p.Value != "" {
		b.WriteString(p.Value + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// problems gathers every problem of one configuration.
type problems struct{ all *multierror.Error }

func (ps *problems) add(err error) {
	ps.all = multierror.Append(ps.all, err)
}

func (ps *problems) err() error {
	if ps.all == nil {
		return nil
	}
	ps.all.ErrorFormat = formatProblems
	return ps.all.ErrorOrNil()
}

func formatProblems(errs []error) string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	lines := make([]string, 0, len(errs)+1)
	lines = append(lines, fmt.Sprintf("%d problems:", len(errs)))
	for _, e := range errs {
		lines = append(lines, "  "+e.Error())
	}
	return strings.Join(lines, "\n")
}

// Problems returns every single problem an error from this package holds.
func Problems(err error) []error {
	if me, ok := err.(*multierror.Error); ok {
		return me.Errors
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// ProblemsBesides returns the problems of err that are not about key, or nil.
func ProblemsBesides(err error, key string) error {
	var rest problems
	for _, e := range Problems(err) {
		var p *Problem
		if errors.As(e, &p) && (p.Key == key || p.About == key) {
			continue
		}
		rest.add(e)
	}
	return rest.err()
}

// ExitConfig is the exit status of `cco daemon run` when its configuration
// is wrong (sysexits' EX_CONFIG). The systemd unit lists it in
// RestartPreventExitStatus=: restarting cannot fix a configuration.
const ExitConfig = 78
