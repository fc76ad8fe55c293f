package filesystem

import "golang.org/x/sys/unix"

// holdFlags opens a file held across its removal (holdRemoved) for its
// status only: whatever its kind and mode, without opening the file
// itself, nor following a final symbolic link (a link is held itself).
const holdFlags = unix.O_PATH | unix.O_NOFOLLOW

// holdsAny: holdFlags opens files of any kind, symbolic links too.
const holdsAny = true
