// queue/dsn_id.h — the spool ids of bounces (DSNs) the engine queues: a
// normal message id (queue/spool_layout.h make_message_id) with ".dsn"
// appended, so `ringmail queue` can count bounces by name without reading
// the files. Callers: the worker that writes a bounce
// (engine/bounce_writer.cc), the queue report. Never allocates.
#pragma once

#include <string_view>

#include "queue/spool_layout.h"

namespace ringmail {

// make_dsn_id writes a new bounce id into |out|:
// "1712345678901234.4711.17.dsn" (at most 52 characters). Thread-safe.
void make_dsn_id(char (&out)[kMessageIdMax]);

// is_dsn_id says whether |id| names a bounce the engine queued.
bool is_dsn_id(std::string_view id);

}  // namespace ringmail
