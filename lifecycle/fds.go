package lifecycle

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeInherited marks every descriptor above 2 close-on-exec. Go opens its
// own that way, but descriptors this process inherited from its caller (a
// shell's `5>file`, a pipe of a supervisor) are not: without this the
// daemon would inherit them and keep them open for its whole life. Files a
// command hands on explicitly (exec.Cmd.ExtraFiles) are duplicated for the
// child after the exec flags count, so they still reach it.
func closeInherited() error {
	d, err := os.Open("/dev/fd")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= 2 {
			continue
		}
		// EBADF: the descriptor of the listing itself, closed by now.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return err
		}
	}
	return nil
}
