//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// LockSQLite takes an exclusive lock on the SQLite database file for the
// life of the process, or says that another process holds it: two servers
// on one file would each keep their own in-memory limits and caches, so
// one instance per SQLite file is the rule (several instances need
// PostgreSQL). Administrative commands do not take it and work beside a
// running server. The lock is flock(2) on a descriptor of our own, which
// SQLite's fcntl locks on the same file do not touch; it ends with the
// process, however it ends. Other dialects need no lock.
func (s *Store) LockSQLite(path string) error {
	if s.dialect != SQLite {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("another twostep serve is already using the database %s: run one instance per SQLite file (several instances need PostgreSQL)", path)
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	s.lock = f
	return nil
}
