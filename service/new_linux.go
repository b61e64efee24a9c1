package service

// New returns the Manager of the platform cco runs on: systemd here.
func New(env Env) (Manager, error) { return newSystemd(env) }
