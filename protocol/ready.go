package protocol

import (
	"encoding/json"
	"strings"
)

// ReadyFDEnv names the environment variable through which start hands
// `cco daemon run` the write end of its readiness pipe. The daemon writes
// ReadyLine once it serves, or "error: " and its error, then closes it.
const ReadyFDEnv = "CCO_READY_FD"

// ReadyMessage begins the line the daemon writes on the readiness pipe once
// it serves; its state follows, as JSON, so that start need not read the
// state file (which a concurrent status may be judging at that moment).
const ReadyMessage = "ready"

// ReadyLine is the line the daemon writes on the readiness pipe once it
// serves: ReadyMessage and its state.
func ReadyLine(s *State) (string, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	return ReadyMessage + " " + string(data), nil
}

// ParseReady returns the state a ReadyLine carries.
func ParseReady(line string) (*State, bool) {
	data, ok := strings.CutPrefix(line, ReadyMessage+" ")
	if !ok {
		return nil, false
	}
	var s State
	if err := json.Unmarshal([]byte(data), &s); err != nil || s.PID <= 0 {
		return nil, false
	}
	return &s, true
}
