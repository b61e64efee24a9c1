package lifecycle

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// watch returns a channel that receives when something in dir may have
// changed, and a function that stops watching. It uses inotify, so that an
// idle follower wakes for nothing and a new line shows at once; when
// inotify is not to be had, it looks every interval instead.
func watch(dir string, interval time.Duration) (<-chan struct{}, func()) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return poll(interval)
	}
	const events = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, dir, events); err != nil {
		unix.Close(fd)
		return poll(interval)
	}
	// Non-blocking, so that the runtime's poller waits on it and Close
	// ends a pending Read.
	f := os.NewFile(uintptr(fd), "inotify")
	wake := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // stopped
			}
			if n > 0 {
				signal(wake)
			}
		}
	}()
	return wake, func() { f.Close() }
}
