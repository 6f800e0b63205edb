// ingress/client_limits.h — per-client-IP limits of one listener:
// concurrent connections, messages per minute, AUTH failures per minute.
//
// Who uses it: one ClientLimits per [[listen]], shared by every worker's
// ingress connections; any thread calls any method at any time.
// How: a fixed table of buckets made at construction (nothing is allocated
// afterwards, no locks: each counter is one atomic word). A client's bucket
// is a keyed hash (SipHash-2-4, random key per table, so nobody outside can
// aim at another client's bucket) of its address: IPv4 (and IPv4-mapped
// IPv6, ::ffff:a.b.c.d, the same client) by the whole address; IPv6 by its
// /64, the block one host or one customer usually holds. Two clients whose
// keys land in the same bucket share its counters: a collision only ever
// makes the limits stricter for both, never looser, and nothing is ever
// evicted. With the default 16384 buckets and a few hundred clients that
// is rare; a bucket's counts never grow past what its clients did.
// The per-minute counters are fixed windows of the caller's clock
// (now_s / 60): a client can burst up to twice the limit across a minute
// boundary, never more.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace ringmail::ingress {

class ClientLimits {
 public:
  static constexpr uint32_t kDefaultBuckets = 16384;

  // A limit of 0 for messages per minute means no limit. |buckets| is
  // rounded up to a power of two.
  ClientLimits(uint32_t max_connections_per_ip, uint32_t max_messages_per_minute_per_ip,
               uint32_t max_auth_failures_per_minute_per_ip, uint32_t buckets = kDefaultBuckets);

  // try_open counts a new connection from |ip|; false (nothing counted)
  // when the client already has max_connections_per_ip open.
  bool try_open(const sockaddr* ip);
  // close ends a connection try_open counted.
  void close(const sockaddr* ip);
  // admit_message counts a message (at MAIL); false (not counted) when the
  // client already sent max_messages_per_minute_per_ip this minute.
  bool admit_message(const sockaddr* ip, uint64_t now_s);
  // auth_allowed: false while the client has max_auth_failures_per_minute_per_ip
  // failures in the current minute.
  bool auth_allowed(const sockaddr* ip, uint64_t now_s);
  void auth_failed(const sockaddr* ip, uint64_t now_s);

  // connections: what try_open counted and close did not (for tests and metrics).
  uint32_t connections(const sockaddr* ip) const;

 private:
  // Bucket: a minute window is (minute << 32) | count in one word.
  struct Bucket {
    std::atomic<uint32_t> connections{0};
    std::atomic<uint64_t> messages{0};
    std::atomic<uint64_t> auth_failures{0};
  };

  Bucket& BucketOf(const sockaddr* ip) const;
  // CountInWindow adds one to |window| for minute now_s/60 unless it holds
  // |limit| already (then false).
  static bool CountInWindow(std::atomic<uint64_t>& window, uint64_t now_s, uint32_t limit);

  const uint32_t max_connections_;
  const uint32_t max_messages_;
  const uint32_t max_auth_failures_;
  uint64_t key_[2] = {};
  uint32_t mask_ = 0;
  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace ringmail::ingress
