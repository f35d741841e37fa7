package main

import (
	"syscall"
	"time"
)

// sysProcAttr makes the kernel kill the server if bench dies without
// stopping it (a crash or SIGKILL), so no server outlives a run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// selfCPU is the user+system CPU time bench itself has used, to show how
// much of the shared machine the load generator took.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
