package homefile

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/internal/tooltest"
)

// opens are the ways cco opens its files: probing, writing, locking.
var opens = map[string]int{
	"read":   os.O_RDONLY,
	"write":  os.O_WRONLY | os.O_APPEND | os.O_CREATE,
	"lock":   os.O_RDWR | os.O_CREATE,
	"rdwr":   os.O_RDWR,
	"create": os.O_WRONLY | os.O_CREATE | os.O_TRUNC,
}

// openWithin opens path and fails the test if that takes more than 5 s:
// a FIFO opened the ordinary way blocks until someone opens its other end.
func openWithin(t *testing.T, path string, flag int) (*os.File, error) {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := Open(path, flag)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		if r.f != nil {
			t.Cleanup(func() { r.f.Close() })
		}
		return r.f, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("opening %s (flags %#x) blocked", path, flag)
		return nil, nil
	}
}

// TestRefusesWhatIsNotARegularFile: a symbolic link, a FIFO, a socket and
// a directory where cco keeps a regular file are refused, at once, with
// an error naming the file and what it is; the target of a link is not
// touched.
func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("keep"), 0o400); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sub := filepath.Join(dir, "dir")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	for path, what := range map[string]string{link: "symbolic link", fifo: "FIFO", sock: "socket", sub: "directory"} {
		for name, flag := range opens {
			f, err := openWithin(t, path, flag)
			if err == nil {
				t.Errorf("%s open of a %s: no error (%v)", name, what, f.Name())
				continue
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), what) {
				t.Errorf("%s open of a %s: the error names neither it nor what it is: %v", name, what, err)
			}
		}
	}
	fi, err := os.Stat(secret)
	if err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("the link's target was changed: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(secret); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
}

// TestWritingMakesTheFilePrivate: a file cco opens for writing ends up
// 0600 whatever mode it had; a probe (read only) changes nothing.
func TestWritingMakesTheFilePrivate(t *testing.T) {
	dir := t.TempDir()
	for name, flag := range opens {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o664); err != nil {
			t.Fatal(err)
		}
		f, err := openWithin(t, path, flag)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Close()
		want := os.FileMode(0o600)
		if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
			want = 0o664
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != want {
			t.Errorf("%s open: mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	// A new file, whatever the umask.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	f, err := Open(filepath.Join(dir, "new"), os.O_WRONLY|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(filepath.Join(dir, "new")); fi.Mode().Perm() != 0o600 {
		t.Errorf("new file: mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestRefusesAnotherUsersFile: a file of another user in CCO_HOME is
// neither written nor locked nor chmod-ed (root only: it makes the file
// nobody's).
func TestRefusesAnotherUsersFile(t *testing.T) {
	if os.Geteuid() != 0 {
		tooltest.Missing(t, "root, to give a file to another user")
	}
	path := filepath.Join(t.TempDir(), "daemon.log")
	if err := os.WriteFile(path, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for name, flag := range opens {
		_, err := openWithin(t, path, flag)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "uid 65534") {
			t.Errorf("%s open of another user's file: %v", name, err)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("another user's file was chmod-ed: %v", fi.Mode().Perm())
	}
}

// TestLockWaitsBoundedly: a second Lock waits while the first is held,
// gives up after its wait with an error naming the file, and gets the lock
// once the first lets go.
func TestLockWaitsBoundedly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.lock")
	unlock, err := Lock(context.Background(), path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(context.Background(), path, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a second Lock while the first is held: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Lock(ctx, path, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled Lock: %v, want context.Canceled", err)
	}
	got := make(chan error, 1)
	go func() {
		unlock2, err := Lock(context.Background(), path, 10*time.Second)
		if err == nil {
			unlock2()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder let go: %v", err)
	}
}

// TestLockSurvivesRemoval: when the lock file is removed while held, the
// next Lock takes a new file; a holder of the removed one does not exclude
// it, but two holders of the same name never run at once.
func TestLockSurvivesRemoval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.lock")
	unlock, err := Lock(context.Background(), path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	unlock2, err := Lock(context.Background(), path, time.Second)
	if err != nil {
		t.Fatalf("Lock after the file was removed: %v", err)
	}
	defer unlock2()
	if _, err := Lock(context.Background(), path, 50*time.Millisecond); err == nil {
		t.Fatal("a third Lock got the new file while it was held")
	}
}
