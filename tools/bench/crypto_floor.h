// tools/bench/crypto_floor.h — what TLS crypto alone costs on this machine,
// measured in memory (no sockets) in a fraction of a second at bench start:
// full and resumed TLS 1.3 handshakes (client and server CPU separately; the
// client verifies chain and name as at `verify`; the server's session
// tickets, sent with its first reply, are included) and sealing/opening one
// message of each size asked for. From these, the floor: the least CPU per
// message the engine (client) and the sink (server) can spend on TLS at a
// given number of messages per connection, which `ringmail bench` prints
// beside what it measured.
//
// Who uses it: tools/cmd_bench.cc (the floor), bench/tls_bench.cc shares
// the same in-memory pieces (tls/testing/tls_pump.h). Thread CPU time
// throughout, so other load on the machine barely moves the figures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tls/testing/test_certificates.h"

namespace ringmail::bench {

struct HandshakeCost {
  double client_us = 0;  // CPU per handshake inside the client's calls
  double server_us = 0;  // the same for the server
};

struct RecordCost {
  uint32_t size = 0;   // plaintext bytes of one message
  double seal_us = 0;  // client: encrypt the message (records of up to 16 KiB)
  double open_us = 0;  // server: decrypt it
};

struct CryptoFloor {
  test::KeyKind cert = test::KeyKind::kEcdsaP256;
  std::string cipher;  // e.g. "TLS_AES_128_GCM_SHA256"
  HandshakeCost full;
  HandshakeCost resumed;
  std::vector<RecordCost> records;  // one per size measured

  // handshake: the cost of one connection's handshake, resumed or full.
  const HandshakeCost& handshake(bool resumption) const { return resumption ? resumed : full; }
  // record_for returns the RecordCost of |size| (zeros if not measured).
  RecordCost record_for(uint32_t size) const;
  // client_us_per_message: the engine's least TLS CPU per message with
  // |per_connection| messages per connection (the handshake shared by them).
  double client_us_per_message(uint32_t size, uint32_t per_connection, bool resumption) const;
  double server_us_per_message(uint32_t size, uint32_t per_connection, bool resumption) const;
  // ceiling_msgs_per_s: the rate |cpus| cores would reach if engine and
  // sink did nothing but this crypto (an upper bound for every TLS level).
  double ceiling_msgs_per_s(uint32_t size, uint32_t per_connection, bool resumption, unsigned cpus) const;
};

// measure_crypto_floor measures with |chain| (the server certificate and
// the CA file |ca_file| the client trusts) for each of |sizes|. False with
// |error| if a handshake fails (a bug: the same chain works in the bench).
bool measure_crypto_floor(const test::ServerChain& chain, const std::string& ca_file,
                          const std::vector<uint32_t>& sizes, CryptoFloor& out, std::string& error);

}  // namespace ringmail::bench
