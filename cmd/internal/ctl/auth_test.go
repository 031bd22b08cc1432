package ctl

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v := NewVerifier(secret)
	now := time.Unix(1_800_000_000, 0)
	signed := func(args ...string) Request {
		r := Request{Args: args}
		r.Sign(secret, now)
		return r
	}

	r := signed("router", "reload")
	if err := v.Verify(&r, now.Add(time.Second)); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	if err := v.Verify(&r, now.Add(2*time.Second)); !errors.Is(err, ErrReplayed) {
		t.Errorf("replay: %v, want ErrReplayed", err)
	}
	// Same command signed again (a new time) is a new request.
	r2 := Request{Args: []string{"router", "reload"}}
	r2.Sign(secret, now.Add(time.Millisecond))
	if err := v.Verify(&r2, now.Add(time.Second)); err != nil {
		t.Errorf("second request refused: %v", err)
	}

	unsigned := Request{Args: []string{"router", "reload"}}
	if err := v.Verify(&unsigned, now); !errors.Is(err, ErrNoAuth) {
		t.Errorf("unsigned: %v", err)
	}
	tampered := signed("router", "announce", "add", "100.64.1.7")
	tampered.Args[3] = "0.0.0.0/0"
	if err := v.Verify(&tampered, now); !errors.Is(err, ErrBadAuth) {
		t.Errorf("tampered arguments: %v", err)
	}
	// Arguments cannot be re-split: "a b" + "c" is not "a" + "b c".
	x := signed("a b", "c")
	x.Args = []string{"a", "b c"}
	if err := v.Verify(&x, now); !errors.Is(err, ErrBadAuth) {
		t.Errorf("re-split arguments: %v", err)
	}
	j := signed("router", "status")
	j.JSON = true
	if err := v.Verify(&j, now); !errors.Is(err, ErrBadAuth) {
		t.Errorf("tampered json flag: %v", err)
	}
	other := Request{Args: []string{"router", "reload"}}
	other.Sign([]byte("another secret, long enough"), now)
	if err := v.Verify(&other, now); !errors.Is(err, ErrBadAuth) {
		t.Errorf("wrong secret: %v", err)
	}
	garbage := Request{Args: []string{"router", "reload"}, Time: now.UnixNano(), Auth: "zz"}
	if err := v.Verify(&garbage, now); !errors.Is(err, ErrBadAuth) {
		t.Errorf("malformed auth: %v", err)
	}
	old := signed("router", "stats", "reset")
	if err := v.Verify(&old, now.Add(MaxSkew+time.Second)); !errors.Is(err, ErrStale) {
		t.Errorf("stale request: %v", err)
	}
	future := signed("router", "stats", "reset")
	if err := v.Verify(&future, now.Add(-MaxSkew-time.Second)); !errors.Is(err, ErrStale) {
		t.Errorf("request from the future: %v", err)
	}
	// The replay cache forgets what can no longer pass the time check.
	for i := range 100 {
		r := Request{Args: []string{"router", "status"}}
		r.Sign(secret, now.Add(time.Duration(i)*time.Second))
		if err := v.Verify(&r, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.seen); n > int(2*MaxSkew/time.Second)+2 {
		t.Errorf("replay cache holds %d MACs, want at most the last %v's", n, 2*MaxSkew)
	}
}

func TestEnsureSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "cli.secret")
	s, created, err := EnsureSecret(path)
	if err != nil || !created || len(s) < MinSecret {
		t.Fatalf("create: %q %v %v", s, created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v %v, want 0600", st.Mode(), err)
	}
	again, created, err := EnsureSecret(path)
	if err != nil || created || string(again) != string(s) {
		t.Errorf("existing secret not reused: %q %v %v", again, created, err)
	}
	if r, err := ReadSecret(path); err != nil || string(r) != string(s) {
		t.Errorf("ReadSecret: %q %v", r, err)
	}
	// An operators' group may read it; anyone else may not.
	os.Chmod(path, 0o640)
	if _, _, err := EnsureSecret(path); err != nil {
		t.Errorf("group-readable secret refused: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := EnsureSecret(path); err == nil {
		t.Error("world-readable secret accepted")
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, _, err := EnsureSecret(short); err == nil {
		t.Error("short secret accepted")
	}
	if err := os.Symlink(path, filepath.Join(dir, "link")); err == nil {
		if _, _, err := EnsureSecret(filepath.Join(dir, "link")); err == nil {
			t.Error("symlink accepted")
		}
	}
}
