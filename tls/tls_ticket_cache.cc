// tls/tls_ticket_cache.cc — see tls_ticket_cache.h.
#include "tls/tls_ticket_cache.h"

#include <openssl/ssl.h>

#include <ctime>

namespace ringmail {

TlsTicketCache::TlsTicketCache(uint32_t capacity)
    : capacity_(capacity), slots_(capacity > 0 ? new SSL_SESSION*[capacity]() : nullptr) {}

TlsTicketCache::~TlsTicketCache() {
  for (uint32_t i = 0; i < size_; i++) SSL_SESSION_free(slots_[i]);
}

void TlsTicketCache::remove_at(uint32_t index) {
  for (uint32_t i = index; i + 1 < size_; i++) slots_[i] = slots_[i + 1];
  size_--;
}

void TlsTicketCache::put(SSL_SESSION* session) {
  if (session == nullptr) return;
  if (capacity_ == 0 || !SSL_SESSION_is_resumable(session)) {
    SSL_SESSION_free(session);
    return;
  }
  if (!SSL_SESSION_should_be_single_use(session)) {
    // A TLS 1.2 session replaces older reusable ones: one is enough.
    for (uint32_t i = 0; i < size_;) {
      if (!SSL_SESSION_should_be_single_use(slots_[i])) {
        SSL_SESSION_free(slots_[i]);
        remove_at(i);
      } else {
        i++;
      }
    }
  }
  if (size_ == capacity_) {
    SSL_SESSION_free(slots_[0]);
    remove_at(0);
    dropped_++;
  }
  slots_[size_++] = session;
  stored_++;
}

bssl::UniquePtr<SSL_SESSION> TlsTicketCache::take(uint64_t now_s) {
  while (size_ > 0) {
    uint32_t index = size_ - 1;  // newest
    SSL_SESSION* session = slots_[index];
    uint64_t expires = SSL_SESSION_get_time(session) + SSL_SESSION_get_timeout(session);
    if (expires <= now_s) {
      SSL_SESSION_free(session);
      remove_at(index);
      dropped_++;
      continue;
    }
    offered_++;
    if (SSL_SESSION_should_be_single_use(session)) {
      remove_at(index);
      return bssl::UniquePtr<SSL_SESSION>(session);
    }
    SSL_SESSION_up_ref(session);
    return bssl::UniquePtr<SSL_SESSION>(session);
  }
  return nullptr;
}

bssl::UniquePtr<SSL_SESSION> TlsTicketCache::take() {
  return take(static_cast<uint64_t>(std::time(nullptr)));
}

}  // namespace ringmail
