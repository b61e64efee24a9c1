package lifecycle

import (
	"encoding/binary"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// watch returns a channel that receives when something in dir may have
// changed, and a function that stops watching. It uses inotify, so that an
// idle follower wakes for nothing and a new line shows at once; when
// inotify is not to be had, or dir itself goes (CCO_HOME removed), it
// looks every interval instead.
func watch(dir string, interval time.Duration) (<-chan struct{}, func()) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return poll(interval)
	}
	const events = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, dir, events); err != nil {
		unix.Close(fd)
		return poll(interval)
	}
	// Non-blocking, so that the runtime's poller waits on it and Close
	// ends a pending Read.
	f := os.NewFile(uintptr(fd), "inotify")
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // stopped
			}
			signal(wake)
			if watchGone(buf[:n]) {
				break
			}
		}
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				signal(wake)
			}
		}
	}()
	return wake, func() {
		close(done)
		f.Close()
	}
}

// watchGone reports whether the events in b say the watch ended: its
// directory was removed or moved away.
func watchGone(b []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		// struct inotify_event: wd, mask, cookie, len, then len bytes of name.
		mask, n := binary.NativeEndian.Uint32(b[4:]), binary.NativeEndian.Uint32(b[12:])
		if mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
			return true
		}
		b = b[min(len(b), unix.SizeofInotifyEvent+int(n)):]
	}
	return false
}
