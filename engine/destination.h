// engine/destination.h — where messages go and how TLS is spoken there. The
// relay is the first (and today the only) destination; per-domain MX
// destinations will be more instances of the same two pieces.
//
// Who uses it: engine/relay_generation.cc builds the Destination at
// start-up and at each SIGHUP reload, on the engine's thread (it reads the trust store and the client
// certificate: file I/O that must never run on a worker); every Worker keeps one DestinationState of its own
// for it; SmtpConnection reads both.
//
// Sharing: Destination is read-only once built and shared by all workers.
// Its TlsClientContext holds one SSL_CTX that every worker's connections
// start sessions from; BoringSSL's SSL_CTX is safe to share between threads
// once configured (SSL_new only takes a reference), and ringmail never
// changes it after start-up, so no lock is taken per connection. Session
// tickets are not kept in the SSL_CTX (its internal cache is off); they live
// in each worker's DestinationState. DestinationState is owned by one worker
// thread and never shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "engine/relay_resolver.h"
#include "engine/smtp_auth.h"
#include "tls/tls_client_context.h"
#include "tls/tls_policy.h"
#include "tls/tls_ticket_cache.h"

namespace ringmail {

// relay_tls_policy maps the [relay] and [tls] keys into the relay's
// TlsPolicy. The next-hop domain that `secure` verifies is relay.host (the
// name the operator wrote, never one learned from DNS). At may and encrypt
// (which check no certificate) a missing default system store is dropped
// rather than stopping the start; at verify and secure it is an error.
TlsPolicy relay_tls_policy(const Config& config);

// Destination is what every worker shares about one next hop.
struct Destination {
  // name: the host as configured (brackets removed), for SNI and sentences.
  std::string name;
  const RelayResolver* resolver = nullptr;  // its addresses (valid once resolver->ready())
  TlsPolicy tls_policy;
  // tls_level: the level in force (effective_tls_level: implicit TLS at
  // `may` is `encrypt`).
  TlsLevel tls_level = TlsLevel::kNone;
  bool implicit_tls = false;
  // tls_context: null at level none; otherwise loaded once at start-up.
  std::unique_ptr<TlsClientContext> tls_context;
  // credentials: the AUTH login here (not configured(): no AUTH), with
  // whether it may go out without TLS; the password read at start-up.
  SmtpCredentials credentials;

  bool uses_tls() const { return tls_context != nullptr; }
};

// build_relay_destination fills |out| for the relay of |config|, whose
// addresses come from |resolver|. Loads the TLS context (trust store, client
// certificate) unless the level is none, and reads relay.password_file
// (refused when others may read it: "chmod 600 FILE"). Blocking file I/O:
// the main thread at start-up only. False with a sentence in |error|
// naming the key or file at fault and what to do.
bool build_relay_destination(const Config& config, const RelayResolver& resolver, Destination& out,
                             std::string& error);

// DestinationState is one worker's own view of a Destination: the address
// that last answered, the TLS sessions it may resume, and when TLS last
// failed there (for `may`). Single-threaded; allocated once per worker.
class DestinationState {
 public:
  explicit DestinationState(const Destination& destination);

  const Destination& destination() const { return *destination_; }
  uint32_t preferred_address() const { return preferred_address_; }
  void note_good_address(uint32_t index) { preferred_address_ = index; }

  // tickets: the TLS sessions this worker may resume at this destination
  // (null when TLS is off or session_resumption = false).
  TlsTicketCache* tickets() { return tickets_.get(); }

  // starttls_allowed: false while "TLS failed here" is remembered
  // (kTlsBrokenRememberS after note_tls_broken, at level may only).
  bool starttls_allowed(uint64_t now_ns) const { return now_ns >= tls_broken_until_ns_; }
  // note_tls_broken: a handshake failed at level may; connections go on in
  // clear for kTlsBrokenRememberS.
  void note_tls_broken(uint64_t now_ns);
  uint64_t tls_broken_until_ns() const { return tls_broken_until_ns_; }

 private:
  const Destination* destination_;
  uint32_t preferred_address_ = 0;
  uint64_t tls_broken_until_ns_ = 0;
  std::unique_ptr<TlsTicketCache> tickets_;
};

}  // namespace ringmail
