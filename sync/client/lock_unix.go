//go:build unix

package client

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockReplica takes an exclusive advisory lock on path+".lock", held until
// the returned file is closed (or the process dies: the kernel drops it,
// so a crash leaves no stale lock).
func lockReplica(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("plasma: client: lock replica: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrReplicaInUse, path)
		}
		return nil, fmt.Errorf("plasma: client: lock replica: %w", err)
	}
	return f, nil
}
