package protocol

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// OrphanHolder finds the process that holds a POSIX write lock on the file
// that was at path before it was removed (with all of CCO_HOME, say): a
// lock the kernel lists in /proc/locks, on the inode of a descriptor whose
// link reads "path (deleted)". It returns 0 when there is none. Only the
// daemon takes that lock, so the holder is the daemon whose files were
// removed under it.
func OrphanHolder(path string) int {
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		// "1: POSIX  ADVISORY  WRITE 4242 00:2f:1234 0 EOF"; a waiter's
		// line has "->" after the number.
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "POSIX" || f[3] != "WRITE" {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil {
			continue
		}
		id := strings.Split(f[5], ":")
		ino, err := strconv.ParseUint(id[len(id)-1], 10, 64)
		if err != nil {
			continue
		}
		if holdsRemoved(pid, path, ino) {
			return pid
		}
	}
	return 0
}

// holdsRemoved reports whether pid has open the removed file that was at
// path, with inode ino.
func holdsRemoved(pid int, path string, ino uint64) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		link := dir + "/" + e.Name()
		if target, err := os.Readlink(link); err != nil || target != path+deletedSuffix {
			continue
		}
		if fi, err := os.Stat(link); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Ino == ino {
				return true
			}
		}
	}
	return false
}
