// tests/support/tls_pump.h — connects two in-memory TlsSessions (a client
// and a server) by copying ciphertext between them, as the network would.
// Used by the TLS unit tests and benchmarks; no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tls/tls_session.h"

namespace ringmail::test {

// move_ciphertext copies what |from| has pending into |to|, at most |chunk|
// bytes per feed (SIZE_MAX: all at once). Returns the bytes moved.
size_t move_ciphertext(TlsSession& from, TlsSession& to, size_t chunk = SIZE_MAX);

enum class PumpResult { kBothDone, kClientFailed, kServerFailed, kStuck };

// handshake_pair runs both handshakes to the end. Ciphertext moves in
// pieces of at most |chunk| bytes.
PumpResult handshake_pair(TlsSession& client, TlsSession& server, size_t chunk = SIZE_MAX);

// settle_after_handshake lets the client read what the server sent after
// the handshake (TLS 1.3 tickets) by exchanging one short message each way.
// Returns false if that fails.
bool settle_after_handshake(TlsSession& client, TlsSession& server);

// send_all writes |data| on |from| and reads it on |to|; returns what |to|
// read (it should equal |data|).
std::string send_all(TlsSession& from, TlsSession& to, const std::string& data);

}  // namespace ringmail::test
