package cli

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// style colours text for a terminal: on when w is one and neither NO_COLOR
// (https://no-color.org) nor TERM=dumb says otherwise; off in a pipe.
type style struct{ on bool }

func newStyle(w io.Writer, getenv func(string) string) style {
	f, ok := w.(*os.File)
	if !ok || getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return style{}
	}
	return style{on: isTerminal(f)}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}

func (s style) wrap(code, text string) string {
	if !s.on || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s style) bold(text string) string   { return s.wrap("1", text) }
func (s style) dim(text string) string    { return s.wrap("2", text) }
func (s style) green(text string) string  { return s.wrap("32", text) }
func (s style) yellow(text string) string { return s.wrap("33", text) }
func (s style) red(text string) string    { return s.wrap("31", text) }
