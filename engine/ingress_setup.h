// engine/ingress_setup.h — what the engine builds once, at start-up, for
// each [[listen]] of the config: the parsed address, each worker's
// listening socket (SO_REUSEPORT), the server TLS context, the users file,
// the trusted networks, the per-client limits (shared by every worker) and
// the session settings. Workers read it (engine/ingress_server.h); only
// ClientLimits changes after start-up, and it is thread-safe.
//
// Who calls it: engine/engine.cc, on the main thread, before the workers
// start. It reads files and binds sockets (blocking calls): never on a
// worker. Every error is a sentence naming the listener's address and the
// file or key at fault, and what to do.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "ingress/client_limits.h"
#include "ingress/network_list.h"
#include "ingress/smtp_server_session.h"
#include "ingress/users_file.h"
#include "tls/tls_server_context.h"

namespace ringmail {

namespace ingress {
class SpoolCommitter;
}

// IngressListener is one [[listen]], shared read-only by every worker.
struct IngressListener {
  IngressListener() = default;
  ~IngressListener();  // closes the listening sockets no worker took
  IngressListener(const IngressListener&) = delete;
  IngressListener& operator=(const IngressListener&) = delete;

  const ListenConfig* config = nullptr;
  std::string name;  // the bound address, "127.0.0.1:2525" / "[::1]:2525", for logs
  sockaddr_storage address{};
  socklen_t address_len = 0;
  bool implicit_tls = false;
  ingress::SessionSettings settings;
  std::string shutdown_reply;                 // "421 4.3.2 HOST Service shutting down\r\n"
  std::unique_ptr<TlsServerContext> tls;      // null: the listener has no TLS
  std::unique_ptr<ingress::UsersFile> users;  // null: auth = "none"
  ingress::NetworkList trusted;               // may send without AUTH
  std::unique_ptr<ingress::ClientLimits> limits;
  std::vector<uint32_t> worker_connections;  // worker i's share of max_connections
  std::vector<int> worker_fds;               // worker i's listening socket; the worker takes it (-1 here)
};

// IngressSetup is every listener and the commit thread they share.
struct IngressSetup {
  std::vector<std::unique_ptr<IngressListener>> listeners;
  ingress::SpoolCommitter* committer = nullptr;  // set by the engine before the workers start
  bool empty() const { return listeners.empty(); }
};

// format_ip writes the address of |address| without the port ("192.0.2.1",
// "2001:db8::1") into |out|.
void format_ip(const sockaddr_storage& address, char (&out)[64]);

// format_socket_address writes "192.0.2.1:25" or "[::1]:2525".
std::string format_socket_address(const sockaddr* address);

// split_connections gives worker i its share of |total| over |workers|:
// total/workers, the first total%workers one more.
std::vector<uint32_t> split_connections(uint32_t total, uint32_t workers);

// build_ingress builds every listener of |config| for |workers| workers:
// loads the TLS context, users file, trusted networks; binds one listening
// socket per worker. A listener without a hostname uses smtp.helo_name.
// False with |error| on the first problem.
bool build_ingress(const Config& config, uint32_t workers, IngressSetup& out, std::string& error);

}  // namespace ringmail
