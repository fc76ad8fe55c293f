//go:build !unix

package runtime

import (
	"errors"
	"os"
	"time"
)

// openNonblock: the cache is refused where there are no Unix owners.
const openNonblock = 0

// checkOwner refuses every file: the cache needs Unix owners and modes
// to tell that only the user can write it.
func checkOwner(os.FileInfo) error {
	return errors.New("the compilation cache needs a Unix system, to check who may write it")
}

// checkParent refuses every directory, as checkOwner does.
func checkParent(fi os.FileInfo) error { return checkOwner(fi) }

// lockStaging is never reached: OpenCompilationCache refuses the cache
// (checkOwner) first.
func lockStaging(dir string) (*os.File, error) { return nil, checkOwner(nil) }

// removeUnused leaves every directory: without Unix owners, it cannot
// tell whose it is.
func removeUnused(string, time.Time) {}
