//go:build !unix

package store

// LockSQLite does nothing where flock(2) is not available: running two
// servers on one SQLite file there is the operator's to avoid.
func (s *Store) LockSQLite(path string) error { return nil }
