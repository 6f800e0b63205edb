// engine/engine.cc — see engine.h.
#include "engine/engine.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "engine/destination.h"
#include "engine/ingress_setup.h"
#include "engine/relay_generation.h"
#include "engine/relay_resolver.h"
#include "engine/run_status.h"
#include "engine/systemd_notify.h"
#include "engine/worker.h"
#include "ingress/spool_committer.h"
#include "log/delivery_log.h"
#include "metrics/metrics_page.h"
#include "metrics/metrics_server.h"
#include "queue/dir_stream.h"
#include "queue/monotonic_clock.h"
#include "queue/spool_lock.h"
#include "tls/tls_library.h"

namespace ringmail {
namespace {

size_t next_power_of_two(size_t n) {
  size_t p = 64;
  while (p < n) p <<= 1;
  return p;
}

uint64_t count_entries(int dirfd) {
  uint64_t count = 0;
  DirStream dir(dirfd);
  while (const dirent* entry = dir.next()) count += entry->d_name[0] != '.';
  return count;
}

// wait_for_workers waits until every worker thread has ended. After a
// signal (|timeout_ms| >= 0) in-flight deliveries get that long; then, or
// at a second SIGTERM/SIGINT, the workers are told to abandon them (the
// messages stay in active/ and are recovered at the next start). SIGHUP and
// SIGUSR2 are logged and change nothing. True when deliveries were abandoned.
bool wait_for_workers(const std::atomic<uint32_t>& running, ReportSink& reports,
                      std::vector<std::unique_ptr<WorkerChannel>>& channels, int signal_fd,
                      int64_t timeout_ms) {
  const uint64_t deadline_ns =
      timeout_ms < 0 ? UINT64_MAX : monotonic_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000;
  bool abandoned = false;
  auto abandon = [&](const char* why) {
    if (abandoned) return;
    abandoned = true;
    fmt::print(stderr, "ringmail: {}: abandoning in-flight deliveries\n", why);
    for (auto& channel : channels) {
      channel->abandon.store(true, std::memory_order_release);
      channel->doorbell.ring_always();
    }
  };
  while (running.load() > 0) {
    const uint64_t now = monotonic_ns();
    if (now >= deadline_ns) abandon("shutdown_timeout_ms passed");
    const int wait_ms = abandoned || deadline_ns == UINT64_MAX
                            ? 100
                            : static_cast<int>(std::min<uint64_t>((deadline_ns - now) / 1'000'000 + 1, 100));
    pollfd fds[2] = {{reports.doorbell.fd(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (poll(fds, 2, wait_ms) <= 0) continue;
    if (fds[0].revents & POLLIN) reports.doorbell.drain();
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(signal_fd, &info, sizeof(info)) <= 0) continue;
      if (info.ssi_signo == SIGUSR1) {
        if (reports.log != nullptr) reports.log->request_reopen();
      } else if (info.ssi_signo == SIGHUP || info.ssi_signo == SIGUSR2) {
        fmt::print(stderr, "ringmail: SIG{} received while stopping: ignored\n",
                   sigabbrev_np(static_cast<int>(info.ssi_signo)));
      } else {
        abandon(fmt::format("SIG{} received while stopping", sigabbrev_np(static_cast<int>(info.ssi_signo)))
                    .c_str());
      }
    }
  }
  return abandoned;
}

// wait_for_worker_setup waits until every worker has its ring (true) or
// one failed to set up (false). Set-up takes milliseconds.
bool wait_for_worker_setup(const std::vector<std::unique_ptr<WorkerChannel>>& channels,
                           const std::atomic<bool>& workers_failed) {
  for (;;) {
    if (workers_failed.load()) return false;
    bool all = true;
    for (const auto& channel : channels) all = all && channel->set_up.load(std::memory_order_acquire);
    if (all) return true;
    usleep(1000);
  }
}

// open_delivery_log opens the [log] outputs (on this thread, before the
// workers: an unwritable path stops the start with the reason).
bool open_delivery_log(const Config& config, DeliveryLog& log, std::string& error) {
  DeliveryLogOptions options;
  options.path = config.log.delivery;
  options.syslog = config.log.syslog;
  options.syslog_socket = config.log.syslog_socket;
  options.syslog_facility = syslog_facility_code(config.log.syslog_facility);
  options.ring_capacity = config.log.ring_capacity;
  return log.open(options, error);
}

// start_metrics_server binds [metrics] listen (here, so a busy port stops
// the start with a sentence) and serves /metrics from its own thread; the
// page sums the cores' counters and scans the spool (metrics/spool_gauges.h).
bool start_metrics_server(const Config& config, const Destination& destination, const SpoolDirs& spool,
                          const EngineMetrics& metrics, const ingress::SpoolCommitter* committer,
                          MetricsServer& server, std::string& error) {
  if (config.metrics.listen.empty()) return true;
  if (!server.open(config.metrics.listen, error)) return false;
  MetricsLabels labels{config.relay.host, tls_level_name(destination.tls_level)};
  auto spool_cache = std::make_shared<SpoolGaugeCache>(spool);
  server.start([&metrics, labels, spool_cache, committer](std::string& out) {
    const uint64_t now_ns = monotonic_ns();
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const int64_t now_ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
    MetricsSnapshot snapshot = metrics.snapshot();
    if (committer != nullptr) {
      const ingress::CommitStats commits = committer->stats();
      snapshot.listening = true;
      snapshot.commit_batches = commits.batches;
      snapshot.commit_sync_calls = commits.sync_calls;
    }
    render_metrics(snapshot, labels, spool_cache->get(now_ns), now_ms, out);
  });
  fmt::print(stderr, "ringmail: metrics on http://{}/metrics\n", config.metrics.listen);
  return true;
}

// reload_config answers SIGHUP: it loads |running|'s file again and, if it
// is good, builds the next relay generation and hands it to the workers,
// which switch once their connections have finished what they carry. A bad
// file, password file or TLS setting changes nothing. Keys that only a
// restart applies are named and keep their running values.
void reload_config(const Config& running, const std::vector<uint32_t>& allocated, ReloadBoard& board,
                   std::vector<std::unique_ptr<WorkerChannel>>& channels) {
  Config loaded;
  std::string why;
  std::shared_ptr<const RelayGeneration> next;
  if (!load_config(running.path, loaded, why) ||
      !build_relay_generation(loaded, board.number() + 1, allocated, next, why)) {
    fmt::print(stderr, "ringmail: SIGHUP: config {} not reloaded: {}; the running config stays\n",
               running.path, why);
    return;
  }
  const std::vector<std::string> restart = restart_keys_changed(running, loaded);
  if (!restart.empty()) {
    fmt::print(stderr, "ringmail: SIGHUP: {} changed, which needs a restart; the running values stay\n",
               fmt::join(restart, ", "));
  }
  uint32_t pool = 0;
  for (uint32_t n : allocated) pool += n;
  uint32_t usable = 0;
  for (uint32_t n : next->worker_connections) usable += n;
  if (usable != loaded.relay.max_connections) {
    fmt::print(
        stderr,
        "ringmail: SIGHUP: relay.max_connections = {} is outside what {} worker(s) with {} connection(s) "
        "started can use without a restart; using {}\n",
        loaded.relay.max_connections, allocated.size(), pool, usable);
  }
  board.publish(next);
  for (auto& channel : channels) channel->doorbell.ring_always();
  fmt::print(stderr,
             "ringmail: SIGHUP: config reloaded (generation {}): relay {}, tls {}, max_connections {}\n",
             next->number, format_host_port(next->resolver.target().host, next->resolver.target().port),
             tls_level_name(next->destination.tls_level), usable);
}

void print_delivery_log_totals(const Config& config, const DeliveryLog& log) {
  fmt::print(stderr, "ringmail: delivery log: {} line(s) written to {}{}, cores waited for room {} time(s)",
             log.lines_written(), config.log.delivery.empty() ? "no file" : config.log.delivery,
             log.writes_syslog() ? " and syslog" : "", log.waits());
  if (log.write_errors() + log.syslog_errors() > 0) {
    fmt::print(stderr, "; {} line(s) could not be written, {} syslog line(s) not sent", log.write_errors(),
               log.syslog_errors());
  }
  fmt::print(stderr, "\n");
}

// describe_listener: the start-up line for one [[listen]].
std::string describe_listener(const IngressListener& listener) {
  const ListenConfig& c = *listener.config;
  return fmt::format("listening on {} (SMTP, tls {}, auth {}{}, {} trusted network(s), max {} connections)",
                     listener.name, listen_tls_name(c.tls), listen_auth_name(c.auth),
                     c.allow_plaintext_auth ? " also in clear" : "", c.trusted_networks.size(),
                     c.max_connections);
}

void print_ingress_totals(const MetricsSnapshot& counts, const ingress::CommitStats& commits) {
  uint64_t refused = 0;
  for (uint64_t n : counts.ingress_events) refused += n;
  fmt::print(stderr,
             "ringmail: listeners: {} connection(s) ({} refused at accept), {} message(s) accepted, {} "
             "refusal(s); {} commit batch(es), {} sync call(s)\n",
             counts.ingress_connections, counts.ingress_connections_refused, counts.ingress_messages_accepted,
             refused, commits.batches, commits.sync_calls);
}

}  // namespace

bool run_engine(const Config& config, bool drain, EngineResult& result, std::string& error) {
  if (drain && !config.listen.empty()) {
    error = fmt::format(
        "`ringmail run --drain` makes one pass over the spool and exits, so it cannot serve the {} "
        "[[listen]] "
        "table(s) in {}; run `ringmail run` (the daemon) to accept mail over SMTP",
        config.listen.size(), config.path);
    return false;
  }
  SpoolDirs spool;
  if (!open_spool(config.spool, /*create=*/true, spool, error)) return false;
  // Signals go to the intake's signalfd only; workers never see them. They
  // are blocked before the lock is taken and before any thread starts (the
  // resolver's included): `ringmail queue --flush` sends SIGUSR2 to the PID
  // in the lock file, and a thread that had it unblocked would die of it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);   // reload the config (reload_config)
  sigaddset(&signals, SIGUSR2);  // `ringmail queue --flush`: retry every deferred message now
  sigaddset(&signals, SIGUSR1);  // logrotate: reopen the delivery log
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) {
    error = fmt::format("cannot create a signalfd: {}", std::strerror(errno));
    return false;
  }
  // One engine per spool, before anything looks at active/: a second one
  // would "recover" the first one's in-flight messages and send them twice.
  SpoolLock lock;
  if (!lock.acquire(spool.root_fd, spool.root, error)) return false;
  // One worker per core, but never more workers than relay connections:
  // each worker owns at least one.
  uint32_t threads = config.engine.threads;
  if (threads == 0) threads = static_cast<uint32_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  threads = std::min(threads, config.relay.max_connections);
  const uint32_t cpus = static_cast<uint32_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  std::vector<uint32_t> connections(threads);
  for (uint32_t i = 0; i < threads; ++i) {
    connections[i] = config.relay.max_connections / threads + (i < config.relay.max_connections % threads);
  }
  // The relay generation: resolver (DNS down at boot does not stop the
  // engine: it defers and keeps trying), destination and its TLS context
  // (trust store, client certificate: file reads), here on the main thread;
  // the workers share it read-only. SIGHUP builds the next one (reload_config).
  std::shared_ptr<const RelayGeneration> first;
  if (!build_relay_generation(config, 1, connections, first, error)) return false;
  ReloadBoard board(first);
  const RelayResolver& relay = first->resolver;
  const Destination& destination = first->destination;
  // The SMTP listeners: sockets bound, TLS contexts, users files and
  // trusted networks loaded here, so a mistake stops the start.
  IngressSetup ingress;
  if (!build_ingress(config, threads, ingress, error)) return false;

  std::vector<std::unique_ptr<WorkerChannel>> channels;
  std::vector<WorkerChannel*> channel_ptrs;
  uint32_t total_slots = 0;
  for (uint32_t i = 0; i < threads; ++i) {
    channels.push_back(std::make_unique<WorkerChannel>(config.engine.inbox_capacity));
    if (!channels.back()->doorbell.open(error)) return false;
    channel_ptrs.push_back(channels.back().get());
  }
  for (uint32_t n : connections) total_slots += n * SmtpConnection::kMaxMessagesInFlight + 4;
  // The commit thread makes the listeners' messages durable (group commit)
  // and rings the worker that waits for each ack.
  std::unique_ptr<ingress::SpoolCommitter> committer;
  // A kill -9 of an earlier run between a listener's write and its rename
  // left files in incoming/tmp that no client was ever told were queued.
  if (const size_t stale = ingress::remove_stale_ingress_files(spool.incoming_tmp_fd); stale > 0) {
    fmt::print(
        stderr,
        "ringmail: removed {} half-written message file(s) an earlier run's listener left in incoming/tmp "
        "(never acknowledged to a client)\n",
        stale);
  }
  if (!ingress.empty()) {
    std::vector<Doorbell*> doorbells;
    for (auto& channel : channels) doorbells.push_back(&channel->doorbell);
    committer = std::make_unique<ingress::SpoolCommitter>(spool.incoming_tmp_fd, spool.incoming_new_fd,
                                                          threads, doorbells);
    ingress.committer = committer.get();
  }
  // Every message the intake hands out can be reported at once (all inboxes
  // full, all slots finishing), so the report ring holds that many: a
  // worker's report push then never fails and never waits for the intake.
  const size_t max_in_flight = static_cast<size_t>(threads) * config.engine.inbox_capacity + total_slots;
  ReportSink reports(next_power_of_two(max_in_flight));
  if (!reports.doorbell.open(error)) return false;
  DeliveryLog delivery_log;
  if (!open_delivery_log(config, delivery_log, error)) return false;
  if (delivery_log.enabled()) {
    delivery_log.start();
    reports.log = &delivery_log;
  }
  // The cores always count (a few relaxed stores per message); the
  // endpoint that serves the counts runs only with [metrics] listen.
  EngineMetrics metrics(threads);
  reports.metrics = &metrics;
  MetricsServer metrics_server;
  if (!start_metrics_server(config, destination, spool, metrics, committer.get(), metrics_server, error)) {
    return false;
  }
  if (committer != nullptr && !committer->start(error)) return false;

  std::atomic<bool> workers_failed{false};
  std::atomic<uint32_t> workers_running{threads};
  std::vector<std::string> worker_errors(threads);
  std::vector<std::thread> workers;
  for (uint32_t i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      // Built on its own thread so its memory is first touched by its core.
      Worker worker(i, i % cpus, connections[i], config, board, spool, *channels[i], reports);
      if (!ingress.empty()) worker.attach_ingress(&ingress);
      if (!worker.run(worker_errors[i])) workers_failed.store(true);
      workers_running.fetch_sub(1);
      reports.doorbell.ring_always();  // wakes wait_for_workers (and the intake)
    });
  }
  const RelayTarget& target = relay.target();
  fmt::print(stderr, "ringmail: {} worker(s), relay {} ({}), {} connections, {}\n", threads,
             format_host_port(target.host, target.port),
             relay.ready() ? fmt::format("{} address(es)", target.addresses.size())
                           : std::string("not resolved yet"),
             config.relay.max_connections, tls_library_description());
  if (destination.uses_tls()) {
    const TlsClientContext& tls = *destination.tls_context;
    fmt::print(stderr, "ringmail: relay TLS: level {}{}, trust store {} ({} certificates), resumption {}\n",
               tls_level_name(destination.tls_level),
               destination.implicit_tls ? " (implicit TLS)" : " (STARTTLS)", tls.trust_store_name(),
               tls.trust_store_certs(), destination.tls_policy.session_resumption ? "on" : "off");
  } else {
    fmt::print(stderr, "ringmail: relay TLS: level none (every message in clear)\n");
  }
  if (destination.credentials.configured()) {
    fmt::print(stderr, "ringmail: relay AUTH: as {} (PLAIN or LOGIN), {}\n", destination.credentials.username,
               destination.credentials.allow_plaintext_auth ? "in clear allowed (relay.allow_plaintext_auth)"
                                                            : "over TLS only");
  }

  for (const auto& listener : ingress.listeners)
    fmt::print(stderr, "ringmail: {}\n", describe_listener(*listener));

  // systemd (Type=notify): READY=1 once the spool is locked and every
  // worker serves; STOPPING=1 when the intake stops. Nothing without
  // $NOTIFY_SOCKET.
  SystemdNotifier notifier;
  std::string notify_error;
  if (!notifier.open_from_environment(notify_error)) {
    fmt::print(stderr, "ringmail: {}; not notifying systemd\n", notify_error);
  }
  if (wait_for_worker_setup(channels, workers_failed) &&
      !notifier.ready(fmt::format("started: {} worker(s), relay {}", threads,
                                  format_host_port(target.host, target.port)))) {
    fmt::print(stderr, "ringmail: cannot send READY=1 to NOTIFY_SOCKET: {}\n", std::strerror(errno));
  }
  RunStatus status(notifier, live_status_wanted(isatty(STDERR_FILENO) != 0, std::getenv("NOTIFY_SOCKET"),
                                                std::getenv("JOURNAL_STREAM"))
                                 ? stderr
                                 : nullptr);

  timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  Intake intake(spool, channel_ptrs, reports, config.engine.shutdown_timeout_ms, status);
  intake.set_reload_handler([&] { reload_config(config, connections, board, channels); });
  const bool intake_ok = intake.run(drain, signal_fd, workers_failed, error);
  notifier.stopping(fmt::format("stopping: {} deliveries in flight", intake.totals().in_flight));

  for (auto& channel : channels) {
    channel->stop.store(true, std::memory_order_release);
    channel->doorbell.ring_always();
  }
  const bool abandoned =
      wait_for_workers(workers_running, reports, channels, signal_fd,
                       intake.stopped_by_signal() ? config.engine.shutdown_timeout_ms : -1);
  for (auto& thread : workers) thread.join();
  if (committer != nullptr) committer->stop();  // every worker has its acks: nothing is in flight
  clock_gettime(CLOCK_MONOTONIC, &end);
  close(signal_fd);

  intake.take_final_reports();
  result.totals = intake.totals();
  if (abandoned && result.totals.in_flight > result.totals.held_now) {
    fmt::print(stderr,
               "ringmail: abandoned {} in-flight deliver{}; {} stay{} in active/ and {} delivered at the "
               "next start\n",
               result.totals.in_flight - result.totals.held_now,
               result.totals.in_flight - result.totals.held_now == 1 ? "y" : "ies",
               result.totals.in_flight - result.totals.held_now == 1 ? "it" : "they",
               result.totals.in_flight - result.totals.held_now == 1 ? "s" : "", "will be");
  }
  if (result.totals.held_now > 0) {
    fmt::print(
        stderr,
        "ringmail: {} message(s) could not have their outcome recorded and are held (hold/, or active/ "
        "where even that move failed); free the spool's disk, then see docs/spool.md \"hold/\"\n",
        result.totals.held_now);
  }
  result.seconds = static_cast<double>(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
  result.threads = threads;
  result.deferred_left = count_entries(spool.deferred_fd);
  result.active_left = count_entries(spool.active_fd);
  metrics_server.stop();
  delivery_log.stop();  // every line written before the summary
  intake.print_final(result.seconds);
  if (delivery_log.enabled()) print_delivery_log_totals(config, delivery_log);
  if (committer != nullptr) print_ingress_totals(metrics.snapshot(), committer->stats());
  if (result.active_left > 0) {
    fmt::print(stderr,
               "ringmail: {} message(s) left in active/ (not attempted while outcomes could not be recorded, "
               "unreadable, or abandoned at shutdown); the next start takes them up\n",
               result.active_left);
  }

  for (uint32_t i = 0; i < threads; ++i) {
    if (!worker_errors[i].empty()) {
      error = fmt::format("worker {} could not start: {}", i, worker_errors[i]);
      return false;
    }
  }
  return intake_ok;
}

}  // namespace ringmail
