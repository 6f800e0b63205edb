// tls/testing/tls_pump.h — connects two in-memory TlsSessions (a client
// and a server) by copying ciphertext between them, as the network would.
// Used by the TLS unit tests, bench/tls_bench.cc and `ringmail bench`'s
// crypto floor (tools/bench/crypto_floor); no sockets.
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

// timed_handshake_pair runs both handshakes to the end like handshake_pair
// (whole flights, no chunking) and adds the thread CPU time spent inside
// each side's handshake calls to |client_s| and |server_s| (the copying
// between them is not counted). False if either side fails or it sticks.
bool timed_handshake_pair(TlsSession& client, TlsSession& server, double& client_s, double& server_s);

// thread_cpu_seconds is this thread's CPU time (CLOCK_THREAD_CPUTIME_ID):
// timings that do not depend on what else runs on the machine.
double thread_cpu_seconds();

// send_all writes |data| on |from| and reads it on |to|; returns what |to|
// read (it should equal |data|).
std::string send_all(TlsSession& from, TlsSession& to, const std::string& data);

}  // namespace ringmail::test
