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
  int64_t queued_ms;  // the file's mtime (unix ms): when it was queued (the delivery log's time in queue)
};

enum class OutcomeKind : uint8_t {
  kDelivered,  // every recipient done: file removed
  kDeferred,   // some recipients pending: file in deferred/, retry at next_attempt_unix
  kFailed,     // nothing pending, some recipients failed (or the file is malformed): file in failed/
  kStuck,      // the file could not be read (nothing was sent): left in active/, the intake retries later
  // Not an end: the outcome is known but could not be recorded (ENOSPC,
  // EIO...). The file went to hold/ (or, failing that, stays in active/);
  // the worker keeps the slot and retries the record, never the delivery.
  // A final report (with |was_held|) follows once the record is written;
  // if the engine stops first, the message stays held.
  kHeld,
  // Handed back without an attempt: the worker holds a message whose
  // outcome it cannot record, so it starts nothing new. File in active/.
  kNotStarted,
};

// RecipientCounts: how the recipients of one attempt ended.
struct RecipientCounts {
  uint32_t delivered = 0;
  uint32_t deferred = 0;
  uint32_t failed = 0;  // refused, or given up at retry.max_age
};

// WorkerReport tells the intake how a message ended (or that it is held).
struct WorkerReport {
  char id[kMessageIdMax];
  OutcomeKind kind;
  bool was_held;               // a final report for a message that was reported kHeld
  bool partial;                // kFailed, but some recipients did get it (now or in earlier attempts)
  int64_t next_attempt_unix;   // for kDeferred
  bool bounce_queued;          // a bounce (DSN) for it went into incoming/new
  RecipientCounts recipients;  // this attempt's recipients (not those settled before)
};

}  // namespace ringmail
