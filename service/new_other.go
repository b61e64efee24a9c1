//go:build !linux && !darwin

package service

import "runtime"

// New fails: cco knows no service manager of this platform.
func New(Env) (Manager, error) { return nil, unsupported(runtime.GOOS) }
