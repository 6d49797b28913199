package fanout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The data directory holds secrets (the token signing keys, the admin
// token) next to the database, so it is private to the user running the
// server, as PostgreSQL's is: created 0700, every file in it 0600, and a
// directory that others can read or enter is refused rather than used.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
	lockName             = "herald.lock"
)

// dataDir is an opened, locked data directory.
type dataDir struct {
	path string
	lock *os.File
	// created: this start made the directory, so a start that fails
	// removes it rather than leave an empty database behind.
	created bool
}

// openDataDir creates dir (0700) or checks that an existing one is
// private, takes its lock, and makes every file in it 0600.
func openDataDir(path string) (*dataDir, error) {
	d := &dataDir{path: path}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(path, dirMode); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDataDir, err)
		}
		d.created = true
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrDataDir, err)
	case !info.IsDir():
		return nil, fmt.Errorf("%w: %s is not a directory", ErrDataDir, path)
	case info.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%w: %s can be read or entered by other users (mode %04o); it holds the keys that sign client tokens. Run: chmod 700 %s",
			ErrDataDir, path, info.Mode().Perm(), path)
	}
	if err := d.takeLock(); err != nil {
		d.discard()
		return nil, err
	}
	if err := d.tighten(); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// takeLock holds an exclusive flock on herald.lock and writes this
// process's pid in it, so that a second server on the same directory can
// say which process holds it.
func (d *dataDir) takeLock() error {
	path := filepath.Join(d.path, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDataDir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf("process %d", pid)
			}
		}
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s is in use by another Herald server (%s); stop it, or give this one its own --data-dir", ErrDataDirInUse, d.path, holder)
		}
		return fmt.Errorf("%w: lock %s: %v", ErrDataDir, path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	d.lock = f
	return nil
}

// tighten makes every file under the directory 0600 and every directory
// 0700 (directories made by older versions were 0755, files 0644).
func (d *dataDir) tighten() error {
	return filepath.WalkDir(d.path, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		want := fileMode
		if e.IsDir() {
			want = dirMode
		}
		if info.Mode().Perm()&^want != 0 {
			return os.Chmod(path, info.Mode().Perm()&want)
		}
		return nil
	})
}

// close releases the lock.
func (d *dataDir) close() {
	if d.lock != nil {
		_ = d.lock.Close()
		d.lock = nil
	}
}

// discard releases the lock and, if this start created the directory,
// removes it: a start that failed (a port in use, say) leaves nothing.
func (d *dataDir) discard() {
	d.close()
	if d.created {
		_ = os.RemoveAll(d.path)
	}
}
