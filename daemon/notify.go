package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// notifier speaks systemd's notify protocol (sd_notify(3)): datagrams on the
// unix socket named by NOTIFY_SOCKET, where a leading '@' names an abstract
// socket (Go's net package maps it). Without NOTIFY_SOCKET it does nothing.
type notifier struct {
	conn *net.UnixConn // nil: not under systemd notify
	// watchdog is how often to send WATCHDOG=1, 0 for never.
	watchdog time.Duration
}

// newNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.
func newNotifier(getenv func(string) string) (*notifier, error) {
	n := &notifier{}
	sock := getenv("NOTIFY_SOCKET")
	if sock == "" {
		return n, nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%s: %w", sock, err)
	}
	n.conn = conn
	if usec := getenv("WATCHDOG_USEC"); usec != "" {
		v, err := strconv.ParseInt(usec, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("WATCHDOG_USEC=%q is not a positive number of microseconds", usec)
		}
		if p := getenv("WATCHDOG_PID"); p == "" || p == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(v) * time.Microsecond / 2
		}
	}
	return n, nil
}

// send sends one state such as "READY=1"; without a socket it does nothing.
func (n *notifier) send(state string) error {
	if n.conn == nil {
		return nil
	}
	if _, err := n.conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notifying systemd (%s): %w", state, err)
	}
	return nil
}

func (n *notifier) close() {
	if n.conn != nil {
		n.conn.Close()
	}
}

// NotifyFailure tells systemd, when the daemon runs under it, why the daemon
// could not start: STATUS= shows in `systemctl --user status`, and ERRNO=
// carries the system error behind it, when there is one. Without
// NOTIFY_SOCKET it does nothing; a failure to notify is not reported, as the
// daemon is exiting with err anyway.
func NotifyFailure(getenv func(string) string, err error) {
	n, nerr := newNotifier(getenv)
	if nerr != nil || n.conn == nil {
		return
	}
	defer n.close()
	// STATUS= is one line.
	state := "STATUS=" + strings.Join(strings.Fields(err.Error()), " ")
	var errno syscall.Errno
	if errors.As(err, &errno) {
		state += "\nERRNO=" + strconv.Itoa(int(errno))
	}
	n.send(state)
}
