// Package config owns twostep's configuration: one typed Config struct with
// its defaults, loading from a YAML file, TWOSTEP_* environment variables and
// command-line flags (in that order, later sources winning), validation that
// reports every problem at once, and a redacted copy for the start-up log.
//
// The set of keys is defined once, by the yaml and help tags of Config's
// fields. Environment variable names, the documentation table (Keys) and the
// list of secrets are all derived from those tags by reflection, so there is
// no second list to keep in step.
//
// Config is a plain value: the composition root (internal/cli) loads it once
// and passes the parts each constructor needs. Nothing reads configuration
// from a global.
package config
