package keyring

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// fileHeader starts a newly created key file, so whoever finds it knows
// what it is and what losing it means.
const fileHeader = `# twostep encryption keys for secrets at rest (TOTP secrets, phone numbers, code hashes).
# Keep this file private (chmod 600) and backed up apart from the database:
# without it nothing sealed in the database can be read back.
# Format: <8 hex id> <base64 of 32 random bytes>; the last key is used for new secrets.
`

// Load reads the key file at path. It refuses a file that group or others
// may read or write, because anyone who can read it can decrypt every
// secret (ASVS V6.4.1: keys protected from unauthorised access), and a file
// without keys. Errors name the path and, for format problems, the line.
func Load(path string) (*Keyring, error) {
	kr, _, err := load(path)
	return kr, err
}

// load returns the keyring and whether the file ends with a newline.
func load(path string) (*Keyring, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the mode checked is the mode
	// of the bytes read.
	st, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("keyring: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("keyring: %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, false, fmt.Errorf("keyring: %s: mode %04o lets other users access the key; run `chmod 600 %s`", path, perm, path)
	}
	data, err := readLimited(f, 1<<20)
	if err != nil {
		return nil, false, fmt.Errorf("keyring: %s: %w", path, err)
	}
	kr, err := parse(data)
	if err != nil {
		return nil, false, fmt.Errorf("keyring: %s: %w", path, err)
	}
	return kr, len(data) > 0 && data[len(data)-1] == '\n', nil
}

// readLimited reads all of f but refuses more than max bytes: a key file
// is a few lines, anything larger is a mistaken path.
func readLimited(f *os.File, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than %d bytes; not a key file", max)
	}
	return data, nil
}

// parse reads key lines. The error says which line is wrong but never
// echoes the line, which may hold key material.
func parse(data []byte) (*Keyring, error) {
	kr := &Keyring{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want `<id> <base64 key>`", line)
		}
		id, enc := fields[0], fields[1]
		if !validID(id) {
			return nil, fmt.Errorf("line %d: key id must be 8 lowercase hex characters", line)
		}
		secret, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil || len(secret) != keyLen {
			return nil, fmt.Errorf("line %d: key must be standard base64 of %d bytes", line, keyLen)
		}
		if err := kr.add(id, secret); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(kr.ids) == 0 {
		return nil, errors.New("no keys in file")
	}
	return kr, nil
}

func validID(id string) bool {
	if len(id) != 8 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func keyLine(id string, secret []byte) string {
	return id + " " + base64.StdEncoding.EncodeToString(secret) + "\n"
}

// LoadOrCreate loads the key file at path, or, if it does not exist,
// creates it with mode 0600 and one fresh key and reports created=true.
// Creation uses O_EXCL so a concurrent start or an existing file is never
// overwritten: replacing a key file would destroy every sealed secret.
// twostep must have a key rather than fall back to storing plaintext
// (STYLE.md "insecure fallbacks").
func LoadOrCreate(path string) (kr *Keyring, created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		kr, err := Load(path)
		return kr, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("keyring: create %s: %w", path, err)
	}
	id, secret := newKey(nil)
	_, werr := f.WriteString(fileHeader + keyLine(id, secret[:]))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path) // a half-written key file would fail every later start
		return nil, false, fmt.Errorf("keyring: write %s: %w", path, werr)
	}
	syncDir(filepath.Dir(path))
	kr = &Keyring{}
	if err := kr.add(id, secret[:]); err != nil {
		return nil, false, fmt.Errorf("keyring: %s: %w", path, err)
	}
	return kr, true, nil
}

// AddKey appends a fresh key to the existing key file at path; it becomes
// the primary key for processes that load the file afterwards. The file is
// first loaded, so it is only extended if it is valid and private. It
// returns the new key's id.
func AddKey(path string) (id string, err error) {
	kr, endsNL, err := load(path)
	if err != nil {
		return "", err
	}
	id, secret := newKey(kr.keys)
	line := keyLine(id, secret[:])
	if !endsNL {
		line = "\n" + line
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return "", fmt.Errorf("keyring: %w", err)
	}
	_, werr := f.WriteString(line)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("keyring: append to %s: %w", path, werr)
	}
	return id, nil
}

// syncDir makes a newly created file's directory entry durable, best
// effort: losing a key file in a crash right after first start would lose
// the secrets sealed with it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
