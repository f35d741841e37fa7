package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// envPrefix starts the environment variable of every key.
	envPrefix = "TWOSTEP_"
	// testEnvPrefix starts variables that belong to the test suite
	// (TWOSTEP_TEST_POSTGRES_URL); Load ignores them.
	testEnvPrefix = "TWOSTEP_TEST_"
	// fileSuffix, appended to a secret's variable, names a file holding the
	// secret (TWOSTEP_ADMIN_TOKEN_FILE), so it need not sit in the
	// environment of every process.
	fileSuffix = "_FILE"
	// redactedValue replaces secrets in Redacted.
	redactedValue = "***"
)

// KeyInfo describes one configuration key, for documentation and tooling.
type KeyInfo struct {
	// Path is the key path, as in the YAML file and the flags map:
	// "sms.provider".
	Path string
	// Env is the environment variable that sets the key:
	// "TWOSTEP_SMS_PROVIDER".
	Env string
	// Default is the default value as it would be written in the
	// environment ("30m", "true", "SHA1"); empty when the default is empty.
	Default string
	// Help is the one-line meaning of the key.
	Help string
	// Secret reports whether the key holds a secret: it can also be set
	// from a file named by Env+"_FILE", and Redacted hides it.
	Secret bool
}

// secretKind says whether and how a key's value is secret.
type secretKind int

const (
	notSecret   secretKind = iota
	secretValue            // the whole value is secret
	secretURL              // a URL whose password (user info or ?password=) is secret
)

// key is one entry of the key table: what Keys reports plus where the value
// lives in Config.
type key struct {
	KeyInfo
	index  []int // reflect field index path into Config
	secret secretKind
}

// keyTable is the single list of configuration keys, derived from Config's
// struct tags.
type keyTable struct {
	keys   []key
	byPath map[string]*key
	byEnv  map[string]*key
}

// table builds the key table once. It panics on a Config field without a
// yaml or help tag or of an unsupported type: a programming error that every
// test run catches.
var table = sync.OnceValue(func() *keyTable {
	t := &keyTable{byPath: map[string]*key{}, byEnv: map[string]*key{}}
	collectKeys(reflect.TypeFor[Config](), "", nil, &t.keys)
	defaults := reflect.ValueOf(Defaults())
	for i := range t.keys {
		k := &t.keys[i]
		k.Default = formatValue(defaults.FieldByIndex(k.index))
		t.byPath[k.Path] = k
		t.byEnv[k.Env] = k
	}
	return t
})

// collectKeys appends a key for every leaf field of the struct type t.
func collectKeys(t reflect.Type, prefix string, index []int, keys *[]key) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("yaml")
		if name == "" || name == "-" || strings.Contains(name, ",") {
			panic(fmt.Sprintf("config: field %s.%s needs a plain yaml tag", t.Name(), f.Name))
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		idx := append(slices.Clip(index), i)
		if f.Type.Kind() == reflect.Struct {
			collectKeys(f.Type, path, idx, keys)
			continue
		}
		if !supported(f.Type) {
			panic(fmt.Sprintf("config: field %s.%s has unsupported type %s", t.Name(), f.Name, f.Type))
		}
		help := f.Tag.Get("help")
		if help == "" {
			panic(fmt.Sprintf("config: field %s.%s needs a help tag", t.Name(), f.Name))
		}
		var secret secretKind
		switch s := f.Tag.Get("secret"); s {
		case "":
		case "value":
			secret = secretValue
		case "url":
			secret = secretURL
		default:
			panic(fmt.Sprintf("config: field %s.%s has unknown secret tag %q", t.Name(), f.Name, s))
		}
		*keys = append(*keys, key{
			KeyInfo: KeyInfo{
				Path:   path,
				Env:    envPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_")),
				Help:   help,
				Secret: secret != notSecret,
			},
			index:  idx,
			secret: secret,
		})
	}
}

// Keys lists every configuration key in the order of the Config struct.
func Keys() []KeyInfo {
	keys := table().keys
	infos := make([]KeyInfo, len(keys))
	for i, k := range keys {
		infos[i] = k.KeyInfo
	}
	return infos
}

var durationType = reflect.TypeFor[time.Duration]()

// supported reports whether parseValue and formatValue handle type t.
func supported(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// parseValue sets v from its text form s, the same way for every source: Go
// duration strings for durations, strconv rules for numbers and booleans,
// comma-separated items for lists. On error v is unchanged.
func parseValue(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid duration %q: write a Go duration such as 30s, 5m or 72h", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid boolean %q: write true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return numberError(s, err)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return numberError(s, err)
		}
		v.SetUint(n)
	case reflect.Slice:
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// numberError explains why s is not a valid number.
func numberError(s string, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("number %q is out of range", s)
	}
	return fmt.Errorf("invalid whole number %q", s)
}

// formatValue writes v in the text form parseValue reads.
func formatValue(v reflect.Value) string {
	if v.Type() == durationType {
		return formatDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Slice:
		return strings.Join(v.Interface().([]string), ",")
	}
	return fmt.Sprint(v.Interface())
}

// formatDuration writes d without zero trailing units: "72h", "30m",
// "1h30m", "2s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
