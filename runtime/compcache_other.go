//go:build !unix

package runtime

import (
	"errors"
	"os"
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
