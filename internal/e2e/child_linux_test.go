package e2e

import "syscall"

// childAttr makes the kernel SIGKILL a child server when the test binary
// dies without its cleanups (a -timeout panic, a kill), so no server
// outlives the run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
