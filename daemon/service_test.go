package daemon

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/render"
)

// TestStopTimeoutAboveGrace: systemd waits TimeoutStopSec= after SIGTERM
// before SIGKILL; a daemon finishing its requests within ShutdownGrace
// must still have time to remove its state file and release its lock.
func TestStopTimeoutAboveGrace(t *testing.T) {
	if render.StopTimeout < ShutdownGrace+5*time.Second {
		t.Errorf("the unit's TimeoutStopSec %v leaves less than 5 s beyond the shutdown grace %v", render.StopTimeout, ShutdownGrace)
	}
}

// TestNotifyFailure: under systemd a failed start says why on the notify
// socket, on one line, with the errno behind it when there is one.
func TestNotifyFailure(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env := map[string]string{"NOTIFY_SOCKET": sock}
	read := func() string {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4096)
		n, err := conn.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(b[:n])
	}
	inUse := fmt.Errorf("cannot listen on 127.0.0.1:1: %w;\nchoose another", &net.OpError{Op: "listen", Err: syscall.EADDRINUSE})
	NotifyFailure(func(k string) string { return env[k] }, inUse)
	if got, want := read(), "STATUS=cannot listen on 127.0.0.1:1: listen: address already in use; choose another\nERRNO=98"; got != want {
		t.Errorf("sent %q, want %q", got, want)
	}
	NotifyFailure(func(k string) string { return env[k] }, errors.New("config.toml: port: bad"))
	if got := read(); got != "STATUS=config.toml: port: bad" {
		t.Errorf("sent %q for an error without errno", got)
	}
}
