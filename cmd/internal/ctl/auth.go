package ctl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The control secret authenticates requests that change fibd's state (and
// every request on a non-loopback listener). It never travels: a request
// carries the client's clock and an HMAC-SHA256 of itself under the
// secret, and the server refuses a stale time or a MAC it has seen before
// (replay).

// DefaultSecretFile is where fibd keeps its secret unless fibd_cli_secret
// says otherwise (conf.DefaultCLISecret is the same path), and where
// fdpi_cli looks for it.
const DefaultSecretFile = "/run/fibd/cli.secret"

// MinSecret is the shortest secret accepted, in bytes.
const MinSecret = 16

// MaxSkew is how far a request's time may be from the server's clock.
const MaxSkew = 30 * time.Second

// Errors of Verify.
var (
	ErrNoAuth   = errors.New("request not authenticated")
	ErrBadAuth  = errors.New("wrong secret")
	ErrStale    = errors.New("request time too far from fibd's clock (more than 30s: check NTP)")
	ErrReplayed = errors.New("request replayed")
)

// mac is the HMAC of everything a request says, in an unambiguous form.
func (r *Request) mac(secret []byte) []byte {
	h := hmac.New(sha256.New, secret)
	var b strings.Builder
	b.WriteString("fibd-ctl-v1\n")
	b.WriteString(strconv.FormatInt(r.Time, 10))
	b.WriteString("\n")
	b.WriteString(strconv.FormatBool(r.JSON))
	b.WriteString("\n")
	for _, a := range r.Args {
		b.WriteString(strconv.Itoa(len(a)))
		b.WriteString(":")
		b.WriteString(a)
		b.WriteString("\n")
	}
	h.Write([]byte(b.String()))
	return h.Sum(nil)
}

// Sign authenticates r with secret at time now.
func (r *Request) Sign(secret []byte, now time.Time) {
	r.Time = now.UnixNano()
	r.Auth = hex.EncodeToString(r.mac(secret))
}

// Verifier checks signed requests. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	mu     sync.Mutex
	seen   map[[sha256.Size]byte]struct{} // MACs accepted within the last 2*MaxSkew
	order  []seenMAC                      // the same, oldest first
}

type seenMAC struct {
	mac     [sha256.Size]byte
	expires time.Time
}

// NewVerifier returns a verifier for secret.
func NewVerifier(secret []byte) *Verifier {
	return &Verifier{secret: secret, seen: map[[sha256.Size]byte]struct{}{}}
}

// Verify accepts r if it carries a valid MAC, a time within MaxSkew of
// now, and was not accepted before. The comparison takes constant time.
func (v *Verifier) Verify(r *Request, now time.Time) error {
	if r.Auth == "" {
		return ErrNoAuth
	}
	got, err := hex.DecodeString(r.Auth)
	if err != nil || len(got) != sha256.Size || !hmac.Equal(got, r.mac(v.secret)) {
		return ErrBadAuth
	}
	if d := now.Sub(time.Unix(0, r.Time)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	var k [sha256.Size]byte
	copy(k[:], got)
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.order) > 0 && now.After(v.order[0].expires) {
		delete(v.seen, v.order[0].mac)
		v.order = v.order[1:]
	}
	if _, ok := v.seen[k]; ok {
		return ErrReplayed
	}
	v.seen[k] = struct{}{}
	v.order = append(v.order, seenMAC{k, now.Add(2 * MaxSkew)})
	return nil
}

// ReadSecret reads a secret file (surrounding white space is not part of
// the secret).
func ReadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("control secret: %w", err)
	}
	s := []byte(strings.TrimSpace(string(b)))
	if len(s) < MinSecret {
		return nil, fmt.Errorf("control secret %s: %d bytes, at least %d", path, len(s), MinSecret)
	}
	return s, nil
}

// EnsureSecret returns the secret in path, creating the file (mode 0600,
// 32 random bytes in hex, parent directories 0755) when it does not exist.
// An existing file is used as it is, so that copies given to operators
// stay valid across restarts, but only if fibd's own user owns it and
// others can neither read nor write it (group access is the operator's
// choice).
func EnsureSecret(path string) (secret []byte, created bool, err error) {
	secret, err = createSecret(path)
	if err == nil {
		return secret, true, nil
	}
	if !errors.Is(err, fs.ErrExist) { // another fibd may have just made it: use it
		return nil, false, err
	}
	st, err := os.Lstat(path)
	if err != nil {
		return nil, false, fmt.Errorf("control secret: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("control secret %s: not a regular file", path)
	}
	if st.Mode().Perm()&0o007 != 0 {
		return nil, false, fmt.Errorf("control secret %s: mode %04o lets any user read or change it (chmod 0600, or 0640 for an operators' group)", path, st.Mode().Perm())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return nil, false, fmt.Errorf("control secret %s: owned by uid %d, not by fibd's user (uid %d)", path, sys.Uid, os.Geteuid())
	}
	s, err := ReadSecret(path)
	return s, false, err
}

// createSecret makes a new secret file; fs.ErrExist when there is one.
func createSecret(path string) ([]byte, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fs.ErrExist
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("control secret: %w", err)
	}
	s := []byte(hex.EncodeToString(raw))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("control secret: %w", err)
	}
	_, werr := f.Write(append(s, '\n'))
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("control secret %s: %w", path, err)
	}
	return s, nil
}
