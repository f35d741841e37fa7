//go:build !linux

package e2e

import "syscall"

// childAttr has no parent-death signal outside Linux: children are still
// killed by the tests' cleanups on every normal exit path.
func childAttr() *syscall.SysProcAttr { return nil }
