package supervisor

import (
	"log/slog"
	"os"

	"golang.org/x/sys/unix"
)

// newLog is the supervisor's logger: lines in the daemon's log, in the
// daemon's format, so that `cco daemon logs` shows restarts beside what the
// daemon said. The file is opened for each line: the daemon rotates it by
// rename, and the supervisor writes seldom.
func newLog(path string) *slog.Logger {
	return slog.New(slog.NewTextHandler(appendFile(path), nil)).With("component", "supervisor")
}

// appendFile writes each record with one append to the file at its path.
type appendFile string

func (a appendFile) Write(p []byte) (int, error) {
	f, err := os.OpenFile(string(a), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Write(p)
}
