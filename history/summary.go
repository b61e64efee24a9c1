package history

import (
	"fmt"
	"strconv"
	"time"
)

// Summary is what status says about the daemon's past.
type Summary struct {
	// Restarts24h counts the restarts of the last 24 hours: starts by a
	// supervisor, systemd or launchd that followed an abnormal end.
	Restarts24h int
	// LastExit is the most recent end of a daemon; nil when none ended.
	LastExit *Exit
	// CrashLoop is the supervisor's giving up, when nothing started since.
	CrashLoop *Event
}

// Exit is one end of a daemon: a recorded exit, or a start whose process is
// gone without one (Unrecorded).
type Exit struct {
	Event
	// Unrecorded: the daemon left no exit record (SIGKILL where nobody
	// waited on it, a crash of the machine); Time is then its start.
	Unrecorded bool
}

// Abnormal reports whether the end was a failure: a signal, a non-zero
// status, a kill for not answering, or no record at all.
func (x *Exit) Abnormal() bool {
	return x.Unrecorded || x.Signal != "" || (x.Code != nil && *x.Code != 0) || x.Reason == ReasonUnhealthy
}

// Alive says whether the process pid, started at procStart, still runs.
type Alive func(pid int, procStart uint64) bool

// Summarize reads the events, oldest first, as of now. alive tells a
// running daemon from one that ended without a record.
func Summarize(events []Event, now time.Time, alive Alive) Summary {
	var s Summary
	var open *Event // the start of the life not yet ended
	var last *Exit  // how the previous life ended
	gaveUp := false
	end := func(x *Exit) {
		last = x
		open = nil
	}
	for i := range events {
		e := &events[i]
		switch e.Kind {
		case KindStart:
			if open != nil {
				end(&Exit{Event: Event{Time: open.Time, Kind: KindExit, PID: open.PID, ProcStart: open.ProcStart}, Unrecorded: true})
			}
			if e.By != ByHand && e.By != "" && last != nil && last.Abnormal() && !gaveUp && now.Sub(e.Time) < 24*time.Hour {
				s.Restarts24h++
			}
			gaveUp = false
			open = e
		case KindExit:
			end(&Exit{Event: *e})
		case KindCrashLoop:
			gaveUp = true
			s.CrashLoop = e
		}
	}
	if open != nil && !alive(open.PID, open.ProcStart) {
		end(&Exit{Event: Event{Time: open.Time, Kind: KindExit, PID: open.PID, ProcStart: open.ProcStart}, Unrecorded: true})
	}
	if !gaveUp {
		s.CrashLoop = nil
	}
	s.LastExit = last
	return s
}

// Words says how a daemon ended, as of now: "killed by SIGKILL 3 min ago",
// "exited 1 12 s ago: cannot listen on 127.0.0.1:3000 …".
func (x *Exit) Words(now time.Time) string {
	if x.Unrecorded {
		return fmt.Sprintf("killed or crashed at an unknown time (pid %d, started %s, left no exit record)", x.PID, Ago(now, x.Time))
	}
	return x.describe(" " + Ago(now, x.Time))
}

// How says how a daemon ended, without when: "killed by SIGKILL",
// "exited 1: cannot listen on 127.0.0.1:3000 …".
func (x *Exit) How() string {
	if x.Unrecorded {
		return fmt.Sprintf("killed or crashed at an unknown time (pid %d left no exit record)", x.PID)
	}
	return x.describe("")
}

func (x *Exit) describe(when string) string {
	var w string
	switch {
	case x.Signal != "":
		w = "killed by " + x.Signal + when
	case x.Code != nil:
		w = "exited " + strconv.Itoa(*x.Code) + when
	default:
		w = "exited" + when
	}
	switch x.Reason {
	case ReasonStop:
		w += " (stopped by `cco daemon stop`)"
	case ReasonParentGone:
		w += " (its supervisor was gone)"
	case ReasonUnhealthy:
		w += " (restarted by the supervisor)"
	}
	if x.Error != "" {
		w += ": " + x.Error
	}
	return w
}

// Ago says how long before now t was, in the unit a person reads at a
// glance: "just now", "12 s ago", "3 min ago", "5 h ago", "2 days ago".
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
}
