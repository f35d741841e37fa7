// Package e2e holds twostep's black-box tests: each test starts the real
// server through the command-line entry point (cli.RunEnv "serve") on a
// fresh database, drives it over HTTP like a client would, and checks the
// answers, the log and the data at rest. Tests that need an outside tool
// (oathtool, zbarimg) or PostgreSQL skip with a message when it is missing.
//
// The package has no non-test code; this file only documents it.
package e2e
