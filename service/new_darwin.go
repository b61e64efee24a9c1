package service

// New returns the Manager of the platform cco runs on: launchd here.
func New(env Env) (Manager, error) { return newLaunchd(env) }
