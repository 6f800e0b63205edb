// ingress/client_limits.cc — see client_limits.h.
#include "ingress/client_limits.h"

#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/siphash.h>

#include <cstring>

namespace ringmail::ingress {
namespace {

constexpr uint64_t kCountMask = 0xffffffffu;

}  // namespace

ClientLimits::ClientLimits(uint32_t max_connections_per_ip, uint32_t max_messages_per_minute_per_ip,
                           uint32_t max_auth_failures_per_minute_per_ip, uint32_t buckets)
    : max_connections_(max_connections_per_ip),
      max_messages_(max_messages_per_minute_per_ip),
      max_auth_failures_(max_auth_failures_per_minute_per_ip) {
  uint32_t size = 1;
  while (size < buckets && size < (1u << 30)) size <<= 1;
  mask_ = size - 1;
  buckets_ = std::make_unique<Bucket[]>(size);
  RAND_bytes(reinterpret_cast<uint8_t*>(key_), sizeof(key_));
}

ClientLimits::Bucket& ClientLimits::BucketOf(const sockaddr* ip) const {
  // The hash input: a family tag, then the IPv4 address or the IPv6 /64.
  uint8_t input[9] = {};
  size_t size = 1;
  if (ip != nullptr && ip->sa_family == AF_INET) {
    input[0] = 4;
    std::memcpy(input + 1, &reinterpret_cast<const sockaddr_in*>(ip)->sin_addr, 4);
    size = 5;
  } else if (ip != nullptr && ip->sa_family == AF_INET6) {
    const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(ip)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      input[0] = 4;
      std::memcpy(input + 1, a6.s6_addr + 12, 4);
      size = 5;
    } else {
      input[0] = 6;
      std::memcpy(input + 1, a6.s6_addr, 8);
      size = 9;
    }
  }
  return buckets_[SIPHASH_24(key_, input, size) & mask_];
}

bool ClientLimits::try_open(const sockaddr* ip) {
  Bucket& bucket = BucketOf(ip);
  if (bucket.connections.fetch_add(1, std::memory_order_relaxed) < max_connections_) return true;
  bucket.connections.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

void ClientLimits::close(const sockaddr* ip) {
  std::atomic<uint32_t>& count = BucketOf(ip).connections;
  uint32_t current = count.load(std::memory_order_relaxed);
  // Never below zero, even if a caller closes what it never opened.
  while (current > 0 && !count.compare_exchange_weak(current, current - 1, std::memory_order_relaxed)) {
  }
}

uint32_t ClientLimits::connections(const sockaddr* ip) const {
  return BucketOf(ip).connections.load(std::memory_order_relaxed);
}

bool ClientLimits::CountInWindow(std::atomic<uint64_t>& window, uint64_t now_s, uint32_t limit) {
  const uint64_t minute = (now_s / 60) & kCountMask;
  uint64_t current = window.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t next = 0;
    if ((current >> 32) != minute) {
      next = (minute << 32) | 1;
    } else if ((current & kCountMask) >= limit) {
      return false;
    } else {
      next = current + 1;
    }
    if (window.compare_exchange_weak(current, next, std::memory_order_relaxed)) return true;
  }
}

bool ClientLimits::admit_message(const sockaddr* ip, uint64_t now_s) {
  if (max_messages_ == 0) return true;
  return CountInWindow(BucketOf(ip).messages, now_s, max_messages_);
}

bool ClientLimits::auth_allowed(const sockaddr* ip, uint64_t now_s) {
  const uint64_t window = BucketOf(ip).auth_failures.load(std::memory_order_relaxed);
  return (window >> 32) != ((now_s / 60) & kCountMask) || (window & kCountMask) < max_auth_failures_;
}

void ClientLimits::auth_failed(const sockaddr* ip, uint64_t now_s) {
  // Counting stops at the limit (more failures change nothing).
  CountInWindow(BucketOf(ip).auth_failures, now_s, max_auth_failures_);
}

}  // namespace ringmail::ingress
