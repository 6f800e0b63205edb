// tools/blocking_wire.h — one blocking TCP connection for the command-line
// tools (`ringmail check-tls`, `ringmail test-send`): connect, send and
// receive, each bounded by a timeout (non-blocking socket + poll()).
//
// Never used by the engine, whose workers do all socket I/O on io_uring and
// never block. Errors come back as a status and a short phrase
// ("Connection refused", "no answer within 2000 ms"); the caller writes the
// operator's sentence around it.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringmail {

enum class WireStatus : uint8_t {
  kOk,
  kTimedOut,  // nothing happened within the timeout
  kFailed,    // the system said no; the phrase says why
};

class BlockingWire {
 public:
  BlockingWire() = default;
  ~BlockingWire() { close(); }
  BlockingWire(const BlockingWire&) = delete;
  BlockingWire& operator=(const BlockingWire&) = delete;

  // connect_address connects to one address within |timeout_ms|; TCP_NODELAY
  // on (commands are small and latency-bound). |error|: why not.
  WireStatus connect_address(const sockaddr* address, socklen_t length, uint32_t timeout_ms,
                             std::string& error);
  // connect_host resolves |host| and tries each address in turn; |peer| is
  // the numeric address that answered. |error| names the last address tried
  // and why it failed (or why the name did not resolve: |resolved| false).
  WireStatus connect_host(const std::string& host, uint16_t port, uint32_t timeout_ms, std::string& peer,
                          bool& resolved, std::string& error);
  // send_all sends every byte, each wait for room bounded by |timeout_ms|.
  WireStatus send_all(const void* data, size_t size, uint32_t timeout_ms, std::string& error);
  // recv_some waits up to |timeout_ms| for bytes; |got| = 0 means the peer
  // closed the connection.
  WireStatus recv_some(void* buffer, size_t capacity, uint32_t timeout_ms, size_t& got, std::string& error);
  // close closes the socket (idempotent).
  void close();
  bool is_open() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace ringmail
