package keyring

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testKey is bytes 0..31 in base64, for known-answer tests.
const testKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// writeFile writes content to a fresh file in a temp dir with mode perm.
func writeFile(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "twostep.key")
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // WriteFile is subject to umask
		t.Fatal(err)
	}
	return path
}

func TestSealOpen(t *testing.T) {
	k := Generate()
	aad := []byte("factor:abc")
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", nil},
		{"totp secret", []byte("12345678901234567890")},
		{"large", bytes.Repeat([]byte{0xAB}, 4096)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, sealed, err := k.Seal(tt.plaintext, aad)
			if err != nil {
				t.Fatal(err)
			}
			if id != k.PrimaryID() {
				t.Errorf("sealed under %q, want primary %q", id, k.PrimaryID())
			}
			if len(tt.plaintext) > 0 && bytes.Contains(sealed, tt.plaintext) {
				t.Error("sealed output contains the plaintext")
			}
			got, err := k.Open(id, sealed, aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %x, want %x", got, tt.plaintext)
			}
		})
	}
}

func TestSealNonceFresh(t *testing.T) {
	k := Generate()
	_, a, _ := k.Seal([]byte("same"), nil)
	_, b, _ := k.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are identical; nonce reused")
	}
}

func TestOpenFailures(t *testing.T) {
	k := Generate()
	id, sealed, err := k.Seal([]byte("secret"), []byte("factor:1"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		id     string
		sealed []byte
		aad    string
	}{
		{"wrong aad", id, sealed, "factor:2"},
		{"missing aad", id, sealed, ""},
		{"unknown id", "00000000", sealed, "factor:1"},
		{"empty id", "", sealed, "factor:1"},
		{"nonce tampered", id, flip(0), "factor:1"},
		{"ciphertext tampered", id, flip(nonceLen), "factor:1"},
		{"tag tampered", id, flip(len(sealed) - 1), "factor:1"},
		{"truncated", id, sealed[:len(sealed)-1], "factor:1"},
		{"nil", id, nil, "factor:1"},
		{"nonce only", id, sealed[:nonceLen], "factor:1"},
		{"shorter than overhead", id, sealed[:nonceLen+15], "factor:1"},
		{"other keyring", Generate().PrimaryID(), sealed, "factor:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Open(tt.id, tt.sealed, []byte(tt.aad))
			if err == nil || got != nil {
				t.Errorf("Open = %q, %v; want nil, error", got, err)
			}
		})
	}
	// A key of another keyring under the same id must not open it either.
	other := Generate()
	other.keys[id] = other.keys[other.PrimaryID()]
	if _, err := other.Open(id, sealed, []byte("factor:1")); err == nil {
		t.Error("a different key with the same id opened the record")
	}
}

func TestZeroKeyring(t *testing.T) {
	var k Keyring
	if _, _, err := k.Seal([]byte("x"), nil); err == nil {
		t.Error("Seal on an empty keyring succeeded")
	}
	if _, err := k.Open("", []byte("x"), nil); err == nil {
		t.Error("Open on an empty keyring succeeded")
	}
	if _, err := k.MAC("", "recovery", nil); err == nil {
		t.Error("MAC on an empty keyring succeeded")
	}
}

func TestMAC(t *testing.T) {
	a, b := Generate(), Generate()
	data := []byte("abcdefghjk")
	mac := func(k *Keyring, purpose string) []byte {
		t.Helper()
		m, err := k.MAC(k.PrimaryID(), purpose, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 32 {
			t.Fatalf("MAC length %d, want 32", len(m))
		}
		return m
	}
	if !bytes.Equal(mac(a, "recovery"), mac(a, "recovery")) {
		t.Error("MAC is not stable")
	}
	if bytes.Equal(mac(a, "recovery"), mac(a, "sms")) {
		t.Error("MAC is the same for two purposes")
	}
	if bytes.Equal(mac(a, "recovery"), mac(b, "recovery")) {
		t.Error("MAC is the same under two keys")
	}
	if m, _ := a.MAC(a.PrimaryID(), "recovery", []byte("abcdefghjm")); bytes.Equal(m, mac(a, "recovery")) {
		t.Error("MAC is the same for different data")
	}
	if _, err := a.MAC("00000000", "recovery", data); err == nil {
		t.Error("MAC under an unknown id succeeded")
	}
	if _, err := a.MAC(a.PrimaryID(), "", data); err == nil {
		t.Error("MAC with an empty purpose succeeded")
	}
}

// TestMACKnownAnswer pins the derivation (HKDF-SHA256, no salt, info
// "twostep mac v1 recovery", then HMAC-SHA256), so stored code hashes
// keep verifying across releases. The value was computed with Python's
// hmac/hashlib, independently of this package.
func TestMACKnownAnswer(t *testing.T) {
	k, err := Load(writeFile(t, "0a1b2c3d "+testKey+"\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	m, err := k.MAC("0a1b2c3d", "recovery", []byte("abcdefghjk"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "94e38438456c40b46163eff1b580f379dbe9e1698189e73e86009406e75d211d"
	if got := hex.EncodeToString(m); got != want {
		t.Errorf("MAC = %s, want %s", got, want)
	}
}

func TestLoad(t *testing.T) {
	k, err := Load(writeFile(t, "# header\n\n  11111111 "+testKey+"  \n# old\n22222222 "+testKey+"\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if got := k.PrimaryID(); got != "22222222" {
		t.Errorf("PrimaryID = %q, want the last key 22222222", got)
	}
	if got := strings.Join(k.IDs(), ","); got != "11111111,22222222" {
		t.Errorf("IDs = %s", got)
	}
	k.IDs()[0] = "changed"
	if k.IDs()[0] != "11111111" {
		t.Error("IDs exposes the keyring's internal slice")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		perm    os.FileMode
		want    string // substring of the error
	}{
		{"empty file", "", 0o600, "no keys"},
		{"only comments", "# nothing\n\n", 0o600, "no keys"},
		{"group readable", "11111111 " + testKey + "\n", 0o640, "chmod 600"},
		{"other readable", "11111111 " + testKey + "\n", 0o604, "chmod 600"},
		{"group writable", "11111111 " + testKey + "\n", 0o620, "chmod 600"},
		{"uppercase id", "ABCDEF12 " + testKey + "\n", 0o600, "line 1"},
		{"short id", "1111111 " + testKey + "\n", 0o600, "line 1"},
		{"non-hex id", "1111111g " + testKey + "\n", 0o600, "line 1"},
		{"bad base64", "# c\n11111111 !!!!\n", 0o600, "line 2"},
		{"short key", "11111111 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", 0o600, "line 1"},
		{"unpadded key", "11111111 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", 0o600, "line 1"},
		{"missing key", "11111111\n", 0o600, "line 1"},
		{"extra field", "11111111 " + testKey + " x\n", 0o600, "line 1"},
		{"duplicate id", "11111111 " + testKey + "\n11111111 " + testKey + "\n", 0o600, "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content, tt.perm)
			k, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded with %d keys", len(k.IDs()))
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, path) {
				t.Errorf("error %q does not name %q and the path", msg, tt.want)
			}
			if strings.Contains(msg, testKey[:16]) {
				t.Errorf("error %q echoes key material", msg)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of a directory succeeded")
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "twostep.key")
	k1, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v; want created", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("created with mode %04o, want 0600", perm)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "#") {
		t.Error("created file has no comment header")
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = %v, %v; want loaded", created, err)
	}
	if k1.PrimaryID() != k2.PrimaryID() {
		t.Fatalf("reloaded primary %q, want %q", k2.PrimaryID(), k1.PrimaryID())
	}
	id, sealed, _ := k1.Seal([]byte("secret"), nil)
	if got, err := k2.Open(id, sealed, nil); err != nil || string(got) != "secret" {
		t.Errorf("reloaded keyring Open = %q, %v", got, err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadOrCreate of a 0644 file: %v; want a chmod 600 error", err)
	}
	if _, _, err := LoadOrCreate(filepath.Join(t.TempDir(), "no", "dir")); err == nil {
		t.Error("LoadOrCreate in a missing directory succeeded")
	}
}

func TestAddKey(t *testing.T) {
	for _, trailingNL := range []bool{true, false} {
		name := "trailing newline"
		if !trailingNL {
			name = "no trailing newline"
		}
		t.Run(name, func(t *testing.T) {
			content := "# keys\n11111111 " + testKey
			if trailingNL {
				content += "\n"
			}
			path := writeFile(t, content, 0o600)
			old, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			oldID, sealed, _ := old.Seal([]byte("secret"), []byte("aad"))
			oldMAC, _ := old.MAC(oldID, "sms", []byte("123456"))

			newID, err := AddKey(path)
			if err != nil {
				t.Fatal(err)
			}
			if !validID(newID) || newID == oldID {
				t.Fatalf("AddKey id %q", newID)
			}
			k, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if k.PrimaryID() != newID {
				t.Errorf("PrimaryID = %q, want the new key %q", k.PrimaryID(), newID)
			}
			if got := strings.Join(k.IDs(), ","); got != oldID+","+newID {
				t.Errorf("IDs = %s", got)
			}
			if got, err := k.Open(oldID, sealed, []byte("aad")); err != nil || string(got) != "secret" {
				t.Errorf("old record after rotation: %q, %v", got, err)
			}
			if m, _ := k.MAC(oldID, "sms", []byte("123456")); !bytes.Equal(m, oldMAC) {
				t.Error("MAC under the old key changed after rotation")
			}
			if id, _, _ := k.Seal([]byte("x"), nil); id != newID {
				t.Errorf("new seal under %q, want %q", id, newID)
			}
		})
	}
	if _, err := AddKey(writeFile(t, "11111111 "+testKey+"\n", 0o644)); err == nil {
		t.Error("AddKey to a 0644 file succeeded")
	}
	if _, err := AddKey(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("AddKey to a missing file succeeded")
	}
}

func TestConcurrentUse(t *testing.T) {
	k := Generate()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			aad := []byte{byte(i)}
			for range 200 {
				id, sealed, err := k.Seal([]byte("secret"), aad)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := k.Open(id, sealed, aad); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkSeal(b *testing.B) {
	k := Generate()
	pt, aad := make([]byte, 20), []byte("factor:abc")
	b.ReportAllocs()
	for b.Loop() {
		k.Seal(pt, aad)
	}
}

func BenchmarkOpen(b *testing.B) {
	k := Generate()
	id, sealed, _ := k.Seal(make([]byte, 20), []byte("factor:abc"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(id, sealed, []byte("factor:abc")); err != nil {
			b.Fatal(err)
		}
	}
}
