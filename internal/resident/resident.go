// Package resident gives back the pages of cco's executable that only
// start-up touched, so that a long-running process (the supervisor, the
// daemon) holds no more of its binary in memory than it uses.
package resident
