//go:build !linux

package main

import (
	"syscall"
	"time"
)

// sysProcAttr has no parent-death signal outside Linux; the server is
// still stopped on every normal exit path and on --timeout.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// selfCPU is not measured outside Linux.
func selfCPU() time.Duration { return 0 }
