// tools/cmd_sink.cc — `ringmail sink`: a fast io_uring SMTP sink for tests
// and benchmarks. Parses the fault flags, loads the TLS server context
// (--tls-cert/--tls-key, versions, ciphers; at start-up, before any thread)
// and the --auth credentials, starts the server threads
// (tools/sink/sink_server.h), reports the live rate on stderr, and on
// SIGTERM/SIGINT or --exit-after prints the final line and writes the stats.
//
// Who calls it: tools/main.cc. The main thread only waits (poll on a
// signalfd and the server's stop eventfd, with the report interval as the
// timeout) and formats reports; it never touches a connection.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "tls/tls_policy.h"
#include "tls/tls_server_context.h"
#include "tools/commands.h"
#include "tools/sink/sink_faults.h"
#include "tools/sink/sink_server.h"
#include "tools/sink/sink_stats.h"

namespace ringmail {
namespace {

constexpr int kExitUsage = 64;
constexpr int kExitUnavailable = 69;
constexpr int kExitIoError = 74;

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// wait_for_stop polls until a signal arrives or the server asks to stop,
// printing a report line every |interval_ms| (0: never).
void wait_for_stop(const sink::SinkServer& server, int signal_fd, uint32_t interval_ms, bool report_tls) {
  pollfd fds[2] = {{signal_fd, POLLIN, 0}, {server.stop_fd(), POLLIN, 0}};
  const int nfds = signal_fd >= 0 ? 2 : 1;
  pollfd* first = signal_fd >= 0 ? &fds[0] : &fds[1];
  int64_t last_report_ns = sink::monotonic_ns();
  uint64_t last_messages = 0;
  while (true) {
    int timeout_ms = -1;
    if (interval_ms > 0) {
      const int64_t due_ns = last_report_ns + static_cast<int64_t>(interval_ms) * 1'000'000;
      const int64_t left_ns = due_ns - sink::monotonic_ns();
      timeout_ms = left_ns > 0 ? static_cast<int>((left_ns + 999'999) / 1'000'000) : 0;
    }
    const int ready = poll(first, nfds, timeout_ms);
    if (ready < 0 && errno != EINTR) return;
    if (ready > 0) return;  // a signal or the stop eventfd
    if (interval_ms == 0) continue;
    const int64_t now_ns = sink::monotonic_ns();
    if (now_ns - last_report_ns < static_cast<int64_t>(interval_ms) * 1'000'000) continue;
    const sink::SinkTotals totals = server.totals();
    const uint64_t messages = totals.messages;
    const double rate = (messages - last_messages) * 1e9 / static_cast<double>(now_ns - last_report_ns);
    std::fprintf(stderr, "%s\n", sink::format_report_line(messages, rate).c_str());
    if (report_tls) std::fprintf(stderr, "%s\n", sink::format_tls_line(totals).c_str());
    last_report_ns = now_ns;
    last_messages = messages;
  }
}

// make_tls_context builds the server context from the TLS flags; null with
// no --tls-cert. Returns false with |error| (a sentence) on a bad flag.
bool make_tls_context(const SinkOptions& options, std::unique_ptr<TlsServerContext>& out,
                      std::string& error) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    error = "--tls-cert and --tls-key go together; give both PEM files";
    return false;
  }
  if (options.tls_cert.empty()) {
    if (options.implicit_tls || !options.tls_min_version.empty() || !options.tls_max_version.empty() ||
        !options.tls_ciphers.empty()) {
      error = "--implicit-tls and the --tls-* options need --tls-cert and --tls-key";
      return false;
    }
    return true;
  }
  TlsServerOptions tls;
  tls.cert_file = options.tls_cert;
  tls.key_file = options.tls_key;
  if (!options.tls_min_version.empty() && !parse_tls_version(options.tls_min_version, tls.min_version)) {
    error =
        "--tls-min-version " + options.tls_min_version + " is not a TLS version; use 1.0, 1.1, 1.2 or 1.3";
    return false;
  }
  if (!options.tls_max_version.empty() && !parse_tls_version(options.tls_max_version, tls.max_version)) {
    error =
        "--tls-max-version " + options.tls_max_version + " is not a TLS version; use 1.0, 1.1, 1.2 or 1.3";
    return false;
  }
  if (!options.tls_ciphers.empty()) tls.ciphers = options.tls_ciphers;
  out = TlsServerContext::create(tls, error);
  return out != nullptr;
}

}  // namespace

int cmd_sink(const SinkOptions& options) {
  sink::SinkFaults faults;
  for (const std::string& spec : options.rcpt_replies) {
    std::string error;
    if (!faults.add_rcpt_reply(spec, error)) {
      std::fprintf(stderr, "ringmail sink: %s\n", error.c_str());
      return kExitUsage;
    }
  }
  faults.set_drop_during_data(options.drop_during_data);
  std::unique_ptr<TlsServerContext> tls;
  if (std::string error; !make_tls_context(options, tls, error)) {
    std::fprintf(stderr, "ringmail sink: %s\n", error.c_str());
    return kExitUsage;
  }
  std::string auth_user, auth_password;
  if (!options.auth.empty()) {
    const size_t colon = options.auth.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::fprintf(stderr, "ringmail sink: --auth wants USER:PASSWORD (e.g. --auth alerts:secret)\n");
      return kExitUsage;
    }
    auth_user = options.auth.substr(0, colon);
    auth_password = options.auth.substr(colon + 1);
  }
  const bool report_tls = tls != nullptr || !auth_user.empty();

  sink::SinkServerConfig config;
  config.listen = options.listen;
  config.threads = options.threads;
  config.maildir = options.maildir;
  config.exit_after = options.exit_after;
  config.delay_ms = options.delay_ms;
  config.session.hostname = host_name();
  config.session.esmtp = !options.no_esmtp;
  config.session.pipelining = !options.no_pipelining;
  config.session.chunking = !options.no_chunking;
  config.session.eight_bit_mime = !options.no_8bitmime;
  config.session.smtputf8 = !options.no_smtputf8;
  if (options.size_limit > 0) config.session.max_message_bytes = options.size_limit;
  config.tls = tls.get();
  config.implicit_tls = options.implicit_tls;
  config.session.starttls = tls != nullptr && !options.implicit_tls;
  config.session.auth_user = auth_user;
  config.session.auth_password = auth_password;

  // SIGINT/SIGTERM are blocked before the server threads start (they
  // inherit the mask) and read from a signalfd by this thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &signals, &old_mask);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) {
    std::fprintf(stderr, "ringmail sink: cannot create a signalfd (%s); stop it with --exit-after\n",
                 std::strerror(errno));
  }

  int status = 0;
  {
    sink::SinkServer server(config, &faults);
    std::string error;
    if (!server.start(error)) {
      std::fprintf(stderr, "ringmail sink: %s\n", error.c_str());
      status = kExitUnavailable;
    } else {
      std::printf("sink: listening on %s\n", sink::format_listen_address(server.bound_address()).c_str());
      std::fflush(stdout);
      wait_for_stop(server, signal_fd, options.report_interval_ms, report_tls);
      const int64_t stop_ns = sink::monotonic_ns();
      server.stop();

      sink::FinalStats stats;
      stats.totals = server.totals();
      const int64_t first_ns = server.first_connection_ns();
      stats.seconds = first_ns > 0 ? (stop_ns - first_ns) / 1e9 : 0;
      stats.cpu_seconds = sink::process_cpu_seconds();
      std::printf("%s\n", sink::format_final_line(stats).c_str());
      if (report_tls) std::printf("%s\n", sink::format_tls_line(stats.totals).c_str());
      std::fflush(stdout);
      if (!options.stats_file.empty() && !sink::write_stats_file(options.stats_file, stats, error)) {
        std::fprintf(stderr, "ringmail sink: %s\n", error.c_str());
        status = kExitIoError;
      }
    }
  }
  if (signal_fd >= 0) {
    // Take the signal that stopped us, so unblocking does not deliver it.
    signalfd_siginfo info;
    while (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
    }
    close(signal_fd);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return status;
}

}  // namespace ringmail
