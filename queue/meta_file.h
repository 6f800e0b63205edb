// queue/meta_file.h — reading and writing a meta/ID file with plain
// (blocking) syscalls, for the threads that may block: the intake (reasons
// for entries it refuses, the reason of a deferral it reports) and tools.
// Workers write meta files through their io_uring instead
// (engine/message_finish.cc), in the same format and the same way: a
// temporary meta/.ID.tmp, fsync, rename over meta/ID.
#pragma once

#include <string>

#include "queue/message_meta.h"

namespace ringmail {

// write_meta_file writes |meta| as meta/|id| under the directory |meta_fd|
// (temporary, fsync, rename). False with |error| naming the step, the path
// below the spool and the errno text; the temporary is removed on failure.
bool write_meta_file(int meta_fd, const char* id, const MessageMeta& meta, std::string& error);

// MetaRead is what read_meta_file found.
enum class MetaRead { kLoaded, kMissing, kBad };

// read_meta_file reads and parses meta/|id| (never following a symlink,
// never blocking on a FIFO). |text| receives the bytes and must outlive
// |meta| (its views point into it). kMissing: no such file (|meta| is
// reset). kBad: unreadable, larger than kMaxMetaBytes or malformed, with
// |problem| a sentence naming meta/ID.
MetaRead read_meta_file(int meta_fd, const char* id, std::string& text, MessageMeta& meta,
                        std::string& problem);

}  // namespace ringmail
