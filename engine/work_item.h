// engine/work_item.h — what crosses threads: the intake hands a worker a
// MessageRef (a claimed file in active/), and a worker reports each
// message's end back to the intake with a WorkerReport. Both are small,
// trivially copyable records that travel through the lock-free rings in
// queue/ — never pointers to memory the other thread owns.
#pragma once

#include <cstdint>

#include "queue/spool_layout.h"

namespace ringmail {

// MessageRef names one message the intake moved into active/.
struct MessageRef {
  char id[kMessageIdMax];  // NUL-terminated file name
  bool has_meta;           // meta/<id> exists (the message was attempted before)
  uint64_t size_bytes;     // the file's size when the intake claimed it (SIZE=, limits)
};

enum class OutcomeKind : uint8_t {
  kDelivered,  // every recipient done: file removed
  kDeferred,   // some recipients pending: file in deferred/, retry at next_attempt_unix
  kFailed,     // nothing pending, some recipients failed (or the file is malformed): file in failed/
  kStuck,      // a spool operation failed: file left in active/, recovered at next start
};

// WorkerReport tells the intake how a message ended.
struct WorkerReport {
  char id[kMessageIdMax];
  OutcomeKind kind;
  int64_t next_attempt_unix;  // for kDeferred
};

}  // namespace ringmail
