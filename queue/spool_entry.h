// queue/spool_entry.h — what counts as a message file in the spool. The
// engine (intake) and `ringmail queue` both ask here, so they agree.
//
// A message is a regular file with exactly one link that a producer wrote
// itself (docs/spool.md). Anything else under a message name (a FIFO, a
// directory, a socket, a device, a symbolic link, a second name for some
// other file) is never opened for reading: the engine moves it to failed/
// with the reason this gives. Pure function; no I/O.
#pragma once

#include <sys/stat.h>

namespace ringmail {

// spool_entry_refusal is nullptr when |st| (from an lstat/fstatat with
// AT_SYMLINK_NOFOLLOW) describes a message file, else the reason it is not
// one, as a sentence fragment for failed/ reasons and reports:
// "symbolic link refused", "hard link refused: a producer must write the
// file itself", "not a regular file (FIFO)" and the like.
const char* spool_entry_refusal(const struct stat& st);

}  // namespace ringmail
