// engine/ingress_setup.cc — see ingress_setup.h.
#include "engine/ingress_setup.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/socket_address.h"

namespace ringmail {
namespace {

constexpr int kListenBacklog = 4096;

// open_listening_socket binds |address| (SO_REUSEADDR; SO_REUSEPORT when
// several workers share the port, so the kernel spreads connections over
// their sockets; IPV6_V6ONLY for IPv6, so "[::]:25" and "0.0.0.0:25" can
// both be listed). Returns the fd or -1 with |error|.
int open_listening_socket(const sockaddr_storage& address, socklen_t length, bool reuse_port,
                          std::string& error) {
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    error = fmt::format("cannot create a socket: {}", std::strerror(errno));
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (address.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    error = fmt::format("cannot set SO_REUSEPORT: {}", std::strerror(errno));
    ::close(fd);
    return -1;
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
      ::listen(fd, kListenBacklog) != 0) {
    error = fmt::format("cannot listen: {}{}", std::strerror(errno),
                        errno == EADDRINUSE ? " (another program, or another [[listen]], has this address)"
                        : errno == EACCES   ? " (ports below 1024 need CAP_NET_BIND_SERVICE)"
                        : errno == EADDRNOTAVAIL ? " (no interface of this host has that address)"
                                                 : "");
    ::close(fd);
    return -1;
  }
  return fd;
}

bool build_listener(const Config& config, uint32_t index, uint32_t workers, IngressListener& out,
                    std::string& error) {
  const ListenConfig& listen = config.listen[index];
  out.config = &listen;
  out.name = listen.address;
  auto fail = [&](std::string_view what) {
    error = fmt::format("[[listen]] {}: {}", listen.address, what);
    return false;
  };
  std::string why;
  if (!parse_socket_address(listen.address, out.address, out.address_len, why)) return fail(why);

  out.implicit_tls = listen.tls == ListenTls::kImplicit;
  out.settings = ingress::make_session_settings(listen, config.smtp.helo_name);
  out.shutdown_reply = fmt::format("421 4.3.2 {} Service shutting down\r\n", out.settings.hostname);

  if (listen.tls != ListenTls::kNone) {
    if (listen.cert_file.empty() || listen.key_file.empty()) {
      return fail("tls needs cert_file and key_file; set both, or tls = \"none\"");
    }
    TlsServerOptions options;
    options.cert_file = listen.cert_file;
    options.key_file = listen.key_file;
    out.tls = TlsServerContext::create(options, why);
    if (out.tls == nullptr) return fail(why);
  }
  if (listen.auth != ListenAuth::kNone) {
    if (listen.users_file.empty()) return fail("auth needs users_file (user:crypt-hash lines)");
    out.users = ingress::UsersFile::load(listen.users_file, why);
    if (out.users == nullptr) return fail(why);
  }
  if (!ingress::NetworkList::parse(listen.trusted_networks, out.trusted, why)) {
    return fail(fmt::format("trusted_networks: {}", why));
  }
  out.limits = std::make_unique<ingress::ClientLimits>(listen.max_connections_per_ip,
                                                       listen.max_messages_per_minute_per_ip,
                                                       listen.max_auth_failures_per_minute_per_ip);

  // Fewer connections than workers: only the first ones listen.
  out.worker_connections = split_connections(listen.max_connections, workers);
  for (uint32_t w = 0; w < workers; ++w) {
    if (out.worker_connections[w] == 0) {
      out.worker_fds.push_back(-1);
      continue;
    }
    const int fd = open_listening_socket(out.address, out.address_len, workers > 1, why);
    if (fd < 0) return fail(why);
    out.worker_fds.push_back(fd);
    if (w == 0) {
      // Port 0: the others bind the port the first one got.
      out.address_len = sizeof(out.address);
      getsockname(fd, reinterpret_cast<sockaddr*>(&out.address), &out.address_len);
      out.name = format_socket_address(reinterpret_cast<const sockaddr*>(&out.address));
    }
  }
  return true;
}

}  // namespace

IngressListener::~IngressListener() {
  for (int fd : worker_fds) {
    if (fd >= 0) ::close(fd);
  }
}

void format_ip(const sockaddr_storage& address, char (&out)[64]) {
  out[0] = '\0';
  if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, out, sizeof(out));
  } else if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, out, sizeof(out));
  }
}

std::string format_socket_address(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    return fmt::format("[{}]:{}", host, ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
  inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
  return fmt::format("{}:{}", host, ntohs(v4->sin_port));
}

std::vector<uint32_t> split_connections(uint32_t total, uint32_t workers) {
  std::vector<uint32_t> shares(workers);
  for (uint32_t i = 0; i < workers; ++i) shares[i] = total / workers + (i < total % workers);
  return shares;
}

bool build_ingress(const Config& config, uint32_t workers, IngressSetup& out, std::string& error) {
  for (uint32_t i = 0; i < config.listen.size(); ++i) {
    auto listener = std::make_unique<IngressListener>();
    if (!build_listener(config, i, workers, *listener, error)) return false;
    out.listeners.push_back(std::move(listener));
  }
  return true;
}

}  // namespace ringmail
