// tls/tls_ticket_cache.h — resumable TLS sessions for one destination on one
// core.
//
// Who uses it: the Destination owns one per core; TlsSession puts sessions
// in from BoringSSL's new-session callback and takes one when a connection
// starts. Single-threaded by design (one per core): no lock.
//
// TLS 1.3 tickets are single use (RFC 8446 C.4): take() removes the ticket
// it returns, so two connections never present the same one. A TLS 1.2
// session may be resumed many times: take() returns it and keeps it.
// Bounded: at most |capacity| sessions; the oldest is dropped when full.
// Sessions past their lifetime are dropped when met.
#pragma once

#include <openssl/base.h>

#include <cstdint>
#include <memory>

namespace ringmail {

class TlsTicketCache {
 public:
  // Capacity 0 disables the cache (put drops, take finds nothing).
  explicit TlsTicketCache(uint32_t capacity);
  ~TlsTicketCache();
  TlsTicketCache(const TlsTicketCache&) = delete;
  TlsTicketCache& operator=(const TlsTicketCache&) = delete;

  // put takes ownership of |session| (one reference). Drops it when it is
  // not resumable.
  void put(SSL_SESSION* session);

  // take returns a session to offer (the caller owns one reference) or
  // nullptr. Newest first.
  bssl::UniquePtr<SSL_SESSION> take(uint64_t now_s);

  // take() with the wall clock.
  bssl::UniquePtr<SSL_SESSION> take();

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  uint64_t stored() const { return stored_; }    // put() accepted
  uint64_t offered() const { return offered_; }  // take() returned one
  uint64_t dropped() const { return dropped_; }  // evicted or expired

 private:
  void remove_at(uint32_t index);

  uint32_t capacity_;
  uint32_t size_ = 0;
  // Oldest first; a fixed array allocated once with the cache.
  std::unique_ptr<SSL_SESSION*[]> slots_;
  uint64_t stored_ = 0;
  uint64_t offered_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace ringmail
