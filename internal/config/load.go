package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem with the configuration. Load and Validate return
// their problems as *Error values (joined by errors.Join in Load's case), so
// a caller can find the key with errors.As.
type Error struct {
	// Key is the key path ("totp.digits"). It is empty when the problem is a
	// name that is no key, such as an unknown environment variable.
	Key string
	// Source says where the bad value came from: `file twostep.yaml, line
	// 4`, `environment TWOSTEP_TOTP_DIGITS` or `flag --totp.digits`. It is
	// empty for problems Validate finds in the merged configuration.
	Source string
	// Err describes the problem.
	Err error
}

// Error returns "key (source): problem", leaving out what is empty.
func (e *Error) Error() string {
	switch {
	case e.Key != "" && e.Source != "":
		return e.Key + " (" + e.Source + "): " + e.Err.Error()
	case e.Key != "":
		return e.Key + ": " + e.Err.Error()
	default:
		return e.Source + ": " + e.Err.Error()
	}
}

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// Load builds the configuration: Defaults, then the YAML file at path (when
// path is not empty), then the TWOSTEP_* variables in environ (as from
// os.Environ), then flags (keyed by key path, e.g. "listen"; pass only the
// flags the user set). Later sources win.
//
// Every problem is reported, not only the first: unknown keys in the file,
// unknown TWOSTEP_ variables (except TWOSTEP_TEST_*, which belong to the test
// suite), unknown flag keys, values that do not parse, and everything
// Validate finds. They come back joined with errors.Join, each an *Error
// naming the key and where the value came from. On error the returned Config
// is the zero value.
func Load(path string, environ []string, flags map[string]string) (Config, error) {
	cfg := Defaults()
	var errs []error
	// origins records where each key got its value, so that a problem
	// Validate finds names its file and line (or variable, or flag) like a
	// value that does not parse does.
	origins := map[string]string{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("reading configuration file: %w", err)
		}
		errs = append(errs, applyYAML(&cfg, path, data, origins)...)
	}
	errs = append(errs, applyEnv(&cfg, environ, origins)...)
	errs = append(errs, applyFlags(&cfg, flags, origins)...)
	for _, err := range cfg.Validate() {
		if e, ok := err.(*Error); ok && e.Source == "" {
			e.Source = origins[e.Key]
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// applyYAML sets the keys present in the YAML document data, read from the
// file name. It walks the document against the key table itself, rather than
// decoding into Config, so that an unknown key or a bad value is reported
// with its full key path and line, and parsed by the same rules as the
// environment and flags.
func applyYAML(cfg *Config, name string, data []byte, origins map[string]string) []error {
	fileSource := "file " + name
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return []error{&Error{Source: fileSource, Err: err}}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return []error{&Error{Source: fileSource, Err: errors.New("holds more than one YAML document")}}
	}
	if len(doc.Content) == 0 {
		return nil // only comments
	}
	w := yamlWalker{file: name, origins: origins}
	w.mapping(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
	return w.errs
}

// yamlWalker applies a YAML node tree to Config, collecting problems.
type yamlWalker struct {
	file    string
	errs    []error
	origins map[string]string // key path → "file F, line N" of its value
}

func (w *yamlWalker) fail(key string, n *yaml.Node, format string, args ...any) {
	w.errs = append(w.errs, &Error{
		Key:    key,
		Source: fmt.Sprintf("file %s, line %d", w.file, n.Line),
		Err:    fmt.Errorf(format, args...),
	})
}

// mapping applies the mapping node n to the struct v, whose key path is
// prefix ("" for the top level).
func (w *yamlWalker) mapping(n *yaml.Node, v reflect.Value, prefix string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "sms:" with nothing under it sets nothing
	}
	if n.Kind != yaml.MappingNode {
		w.fail(prefix, n, "expected a mapping of keys to values")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		path := kn.Value
		if prefix != "" {
			path = prefix + "." + kn.Value
		}
		if line, dup := seen[kn.Value]; dup {
			w.fail(path, kn, "set twice (first on line %d)", line)
			continue
		}
		seen[kn.Value] = kn.Line
		field, ok := fieldByTag(v.Type(), kn.Value)
		if !ok {
			w.fail(path, kn, "unknown key")
			continue
		}
		fv := v.Field(field)
		if fv.Kind() == reflect.Struct {
			w.mapping(vn, fv, path)
			continue
		}
		w.leaf(vn, fv, path)
	}
}

// leaf applies the value node n to the field v of key path.
func (w *yamlWalker) leaf(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			v.SetZero() // "redis:" with no value means empty
			return
		}
		if err := parseValue(v, n.Value); err != nil {
			w.fail(path, n, "%w", err)
			return
		}
		w.origins[path] = fmt.Sprintf("file %s, line %d", w.file, n.Line)
	case yaml.SequenceNode:
		if v.Kind() != reflect.Slice {
			w.fail(path, n, "expected a single value, not a list")
			return
		}
		var items []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				w.fail(path, item, "list items must be single values")
				return
			}
			items = append(items, item.Value)
		}
		v.Set(reflect.ValueOf(items))
		w.origins[path] = fmt.Sprintf("file %s, line %d", w.file, n.Line)
	default:
		w.fail(path, n, "expected a value, not a mapping")
	}
}

// fieldByTag returns the index of the field of struct type t whose yaml tag
// is name.
func fieldByTag(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("yaml") == name {
			return i, true
		}
	}
	return 0, false
}

// applyEnv sets the keys named by TWOSTEP_* variables in environ, and reads
// secrets from the files named by their _FILE variables.
func applyEnv(cfg *Config, environ []string, origins map[string]string) []error {
	vars := map[string]string{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) || strings.HasPrefix(name, testEnvPrefix) {
			continue
		}
		vars[name] = value
	}
	t := table()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		value := vars[name]
		source := "environment " + name
		if k, ok := t.byEnv[name]; ok {
			if _, both := vars[name+fileSuffix]; both && k.secret != notSecret {
				errs = append(errs, &Error{
					Key:    k.Path,
					Source: "environment " + name + " and " + name + fileSuffix,
					Err:    errors.New("set only one of them"),
				})
				continue
			}
			if err := setKey(cfg, k, value, source); err != nil {
				errs = append(errs, err)
			} else {
				origins[k.Path] = source
			}
			continue
		}
		if base, ok := strings.CutSuffix(name, fileSuffix); ok {
			if k, ok := t.byEnv[base]; ok && k.secret != notSecret {
				if _, both := vars[base]; both {
					continue // reported with base
				}
				if err := setKeyFromFile(cfg, k, value, source); err != nil {
					errs = append(errs, err)
				} else {
					origins[k.Path] = source
				}
				continue
			}
		}
		errs = append(errs, &Error{
			Source: source,
			Err:    errors.New("names no configuration key (variables for the test suite start with " + testEnvPrefix + ")"),
		})
	}
	return errs
}

// setKeyFromFile sets the secret k to the trimmed content of the file at
// path, as named by the <VAR>_FILE variable.
func setKeyFromFile(cfg *Config, k *key, path, source string) error {
	if path == "" {
		return &Error{Key: k.Path, Source: source, Err: errors.New("empty file name")}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{Key: k.Path, Source: source, Err: err}
	}
	value := strings.TrimSpace(string(data))
	if value == "" {
		return &Error{Key: k.Path, Source: source, Err: fmt.Errorf("file %s is empty", path)}
	}
	return setKey(cfg, k, value, source)
}

// applyFlags sets the keys in flags, which is keyed by key path.
func applyFlags(cfg *Config, flags map[string]string, origins map[string]string) []error {
	t := table()
	var errs []error
	for _, path := range slices.Sorted(maps.Keys(flags)) {
		source := "flag --" + path
		k, ok := t.byPath[path]
		if !ok {
			errs = append(errs, &Error{Source: source, Err: errors.New("names no configuration key")})
			continue
		}
		if err := setKey(cfg, k, flags[path], source); err != nil {
			errs = append(errs, err)
		} else {
			origins[k.Path] = source
		}
	}
	return errs
}

// setKey parses value into the field of k.
func setKey(cfg *Config, k *key, value, source string) error {
	if err := parseValue(reflect.ValueOf(cfg).Elem().FieldByIndex(k.index), value); err != nil {
		return &Error{Key: k.Path, Source: source, Err: err}
	}
	return nil
}
