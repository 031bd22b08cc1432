package pcap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Create makes the next capture file of a rotating series in dir (made if
// missing): <base>_<unix seconds>.pcap, or <base>_<unix seconds>_<n>.pcap
// when that exists already (two rotations in one second), never
// overwriting a file. The caller writes the header (NewWriter) and closes
// the file.
func Create(dir, base string, now time.Time) (*os.File, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	for n := 0; ; n++ {
		name := filepath.Join(dir, fmt.Sprintf("%s_%d.pcap", base, now.Unix()))
		if n > 0 {
			name = filepath.Join(dir, fmt.Sprintf("%s_%d_%d.pcap", base, now.Unix(), n))
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, "", err
		}
	}
}
