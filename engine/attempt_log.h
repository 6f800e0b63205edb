// engine/attempt_log.h — the engine's side of the delivery log: it turns a
// message slot's attempt into AttemptEvents (one per recipient) and the
// spool transitions into MessageEvents, and formats each straight into a
// cell of the DeliveryLog's ring (log/delivery_log.h).
//
// Who calls it: SmtpConnection (note_transaction_start/end: the session's
// facts, copied onto the slot), Worker::finish/on_finished and the held path
// (engine/message_finish.cc, engine/worker.cc), the intake (queued, refused).
// No allocation: events are views, lines are formatted in the ring cell.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/message_slot.h"
#include "log/delivery_event.h"
#include "log/delivery_log.h"

namespace ringmail {

class SmtpClient;
class TlsRecordLayer;
struct RelayTarget;

// note_transaction_start: |slot| was handed to a connection.
void note_transaction_start(MessageSlot& slot);
// note_transaction_end copies what the log reports about the connection
// (address, TLS version, cipher and verdict, AUTH) onto |slot|. |tls| is
// null without TLS.
void note_transaction_end(MessageSlot& slot, const SmtpClient& client, const TlsRecordLayer* tls,
                          const RelayTarget& relay, uint32_t address_index);

// log_attempts pushes one line per recipient this attempt resolved.
// |expired|: the message failed at retry.max_age, so its deferred
// recipients are "expired". |attempt| counts from 1.
void log_attempts(DeliveryLog& log, const MessageSlot& slot, std::string_view destination, bool expired,
                  uint32_t attempt);

// log_message_end pushes the line for a message that went to deferred/
// (next attempt |next_attempt_unix|) or failed/; other ends have none.
void log_message_end(DeliveryLog& log, const MessageSlot& slot, OutcomeKind kind, int64_t next_attempt_unix);

// log_message_event pushes one message-level line (|event|.time_ms is
// filled in when 0).
void log_message_event(DeliveryLog& log, MessageEvent event);

// slot_message_id is the Message-ID header of the message in |slot|.
std::string_view slot_message_id(const MessageSlot& slot);

// unix_now_ms is the wall clock in milliseconds.
int64_t unix_now_ms();

}  // namespace ringmail
