// engine/worker.cc — see worker.h. The loop: take messages from the inbox
// into free slots, match ready messages to connections, submit, wait,
// dispatch completions; repeat until stopped and empty.
#include "engine/worker.h"

#include <fmt/format.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "engine/attempt_log.h"
#include "engine/ingress_server.h"

namespace ringmail {
namespace {

// A connection with nothing to carry for this long says QUIT (Postfix's
// smtp_connection_cache_time_limit is 2 s).
constexpr uint64_t kIdleQuitNs = 2'000'000'000ull;
constexpr int kTickMs = 250;

}  // namespace

// wait_ms: how long the loop may sleep, at most a tick, waking just past
// |deadline_ns| (a connection's; UINT64_MAX: none) so schedule() sees it.
int Worker::wait_ms(uint64_t deadline_ns) const {
  const uint64_t now = now_ns();
  if (deadline_ns <= now) return 0;
  const uint64_t ms = (deadline_ns - now) / 1'000'000ull + 1;
  return ms < static_cast<uint64_t>(kTickMs) ? static_cast<int>(ms) : kTickMs;
}

Worker::Worker(uint32_t id, uint32_t cpu, uint32_t max_connections, const Config& config,
               const ReloadBoard& board, const SpoolDirs& spool, WorkerChannel& channel, ReportSink& reports)
    : id_(id),
      cpu_(cpu),
      config_(config),
      board_(board),
      generation_(board.current()),
      relay_(&generation_->resolver),
      destination_(generation_->destination),
      spool_(spool),
      channel_(channel),
      reports_(reports),
      metrics_(reports.metrics->core(id)),
      retry_(config.retry.schedule, config.retry.max_age) {
  // Up to kMaxMessagesInFlight messages per connection (BDAT: four whole
  // transactions; DATA: the one in its body and the next pipelined behind
  // it), plus a few loading.
  const uint32_t slot_count = max_connections * SmtpConnection::kMaxMessagesInFlight + 4;
  for (uint32_t i = 0; i < slot_count; ++i) {
    slots_.push_back(std::make_unique<MessageSlot>(this, i));
    free_slots_.push_back(slots_.back().get());
  }
  ready_.resize(slot_count);
  client_config_.helo_name = config.smtp.helo_name;
  for (uint32_t i = 0; i < max_connections; ++i) {
    connections_.push_back(std::make_unique<SmtpConnection>(this, &client_config_, i));
  }
  take_generation_settings();
  // A held message reports twice; a held worker hands its inbox back.
  pending_reports_.reserve(2 * slot_count + config.engine.inbox_capacity);
}

Worker::~Worker() = default;

void Worker::attach_ingress(IngressSetup* setup) { ingress_ = std::make_unique<IngressServer>(this, setup); }

uint64_t Worker::now_ns() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

bool Worker::run(std::string& error) {
  if (config_.engine.pin_threads) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu_, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);  // best effort
  }
  char name[16];
  std::snprintf(name, sizeof(name), "ringmail-w%u", id_);
  pthread_setname_np(pthread_self(), name);

  // Only this ring reads the doorbell: make its eventfd blocking, so the
  // read waits in the kernel (io_uring polls it) on every kernel, instead of
  // failing with EAGAIN where io_uring does not retry non-blocking reads.
  const int doorbell_flags = fcntl(channel_.doorbell.fd(), F_GETFL);
  fcntl(channel_.doorbell.fd(), F_SETFL, doorbell_flags & ~O_NONBLOCK);

  // The ring is created here, on the thread that will submit to it.
  if (!ring_.init(4096, error)) return false;
  if (id_ == 0) fmt::print(stderr, "ringmail: {}\n", describe_ring_features(ring_.features()));
  // Spool renames and unlinks run in the kernel's io-wq threads; a few are
  // enough, more only contend on the directory lock.
  unsigned iowq_workers[2] = {2, 2};
  io_uring_register_iowq_max_workers(ring_.raw(), iowq_workers);
  // Fixed-file table: two entries per slot (message file, meta file).
  const int rc = io_uring_register_files_sparse(ring_.raw(), static_cast<unsigned>(slots_.size() * 2));
  if (rc < 0) {
    error = fmt::format("cannot register io_uring fixed files: {}", std::strerror(-rc));
    return false;
  }
  if (ingress_ != nullptr) ingress_->start();
  channel_.set_up.store(true, std::memory_order_release);
  loop();
  // The commit thread reads the listener connections' buffers until it acks.
  if (ingress_ != nullptr) ingress_->wait_for_commits();
  report_held_at_exit();
  return true;
}

void Worker::loop() {
  for (;;) {
    arm_doorbell();
    if (!stopping_ && channel_.stop.load(std::memory_order_acquire)) stopping_ = true;
    if (ingress_ != nullptr) {
      if (stopping_) ingress_->begin_stop();
      ingress_->poll();
    }
    take_inbox();
    check_reload();
    schedule();
    flush_reports();
    if (stopping_ && drained()) break;
    if (channel_.abandon.load(std::memory_order_acquire)) break;

    const bool inbox_waiting = !stopping_ && !free_slots_.empty();
    // The commit thread rings the doorbell after acks for this worker.
    const bool acks_waiting = ingress_ != nullptr && ingress_->commits_waiting();
    if (inbox_waiting || acks_waiting) {
      channel_.doorbell.prepare_to_sleep();
      if ((inbox_waiting && !channel_.inbox.empty_approx()) ||
          channel_.stop.load(std::memory_order_acquire) || (acks_waiting && ingress_->poll() > 0)) {
        channel_.doorbell.cancel_sleep();
        continue;
      }
    }
    // Wake at least every tick while connections exist (idle QUIT), reports
    // or a message for the commit thread wait for room, and by the first
    // connection deadline.
    bool any_open = !pending_reports_.empty() || (ingress_ != nullptr && ingress_->submit_waiting());
    uint64_t deadline = UINT64_MAX;
    for (const auto& c : connections_) {
      any_open |= !c->is_closed();
      deadline = std::min(deadline, c->next_deadline_ns());
    }
    const unsigned completions = ring_.wait(any_open ? wait_ms(deadline) : -1);
    channel_.doorbell.woke();
    if (completions == 0 && debug_ticks()) log_idle_tick();
  }
}

// RINGMAIL_DEBUG_TICKS=1 logs the worker's state whenever a tick passes
// with no completion while work is waiting: a diagnostic for stalls.
bool Worker::debug_ticks() {
  static const bool enabled = std::getenv("RINGMAIL_DEBUG_TICKS") != nullptr;
  return enabled;
}

void Worker::log_idle_tick() const {
  if (ready_count_ == 0 && channel_.inbox.empty_approx() && slots_in_use_ == 0) return;
  std::string line =
      fmt::format("worker {}: idle tick: ready {} slots {} inbox {} free {}", id_, ready_count_,
                  slots_in_use_, channel_.inbox.size_approx(), free_slots_.size());
  for (const auto& c : connections_) line += " [" + c->debug_state() + "]";
  fmt::print(stderr, "{}\n", line);
}

bool Worker::drained() const {
  if (!pending_reports_.empty()) return false;
  if (ingress_ != nullptr && !ingress_->idle()) return false;
  if (slots_in_use_ > held_slots_) return false;
  if (held_slots_ > 0) {
    // A held slot only waits for its retry timer: it does not keep the
    // worker (the message stays in hold/); one with spool I/O in flight does.
    for (const auto& slot : slots_) {
      if (slot->held && slot->finish_steps_pending > 0) return false;
    }
  }
  for (const auto& c : connections_) {
    if (!c->is_closed()) return false;
  }
  return true;
}

void Worker::arm_doorbell() {
  if (doorbell_armed_) return;
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_read(sqe, channel_.doorbell.fd(), &doorbell_value_, sizeof(doorbell_value_), 0);
  set_completion(sqe, &doorbell_c_);
  doorbell_armed_ = true;
}

void Worker::on_doorbell(int res, uint32_t) {
  doorbell_armed_ = false;
  // An error is not retried from here (that could spin); the loop re-arms
  // the read on its next pass.
  if (res >= 0 && !(stopping_ && drained())) arm_doorbell();
}

void Worker::take_inbox() {
  if (stopping_) return;  // what is still in the inbox stays in active/ for the next start
  MessageRef ref;
  if (held_slots_ > 0) {
    // The spool cannot record outcomes: an attempt now would send mail
    // whose outcome cannot be kept. Hand the messages back untouched.
    while (channel_.inbox.try_pop(ref)) {
      WorkerReport report{};
      std::memcpy(report.id, ref.id, sizeof(report.id));
      report.kind = OutcomeKind::kNotStarted;
      pending_reports_.push_back(report);
    }
    return;
  }
  while (!free_slots_.empty() && channel_.inbox.try_pop(ref)) {
    MessageSlot* slot = free_slots_.back();
    free_slots_.pop_back();
    ++slots_in_use_;
    slot->reset();
    slot->ref = ref;
    start_load(slot);
  }
}

void Worker::on_slot_loaded(MessageSlot* slot) {
  ready_[(ready_head_ + ready_count_) % ready_.size()] = slot;
  ++ready_count_;
}

// check_reload notices a newer relay generation (SIGHUP). Until every
// connection has closed, schedule() gives them nothing new and has them QUIT
// once what they carry is done; then the worker switches.
void Worker::check_reload() {
  if (!switching_) {
    if (board_.number() == generation_->number) return;
    switching_ = true;
  }
  for (const auto& c : connections_) {
    if (!c->is_closed()) return;
  }
  switch_generation();
}

void Worker::switch_generation() {
  generation_ = board_.current();  // the previous one is freed with its last user
  switching_ = false;
  relay_ = &generation_->resolver;
  destination_ = DestinationState(generation_->destination);
  take_generation_settings();
  for (auto& c : connections_) c->bind_destination();
}

// take_generation_settings copies generation_'s limits and TLS/AUTH
// settings into what the connections read (all of them closed, or not yet
// opened).
void Worker::take_generation_settings() {
  const Destination& destination = generation_->destination;
  connection_limit_ =
      std::min(static_cast<uint32_t>(connections_.size()), generation_->worker_connections.at(id_));
  next_connection_ = 0;
  client_config_.max_messages_per_connection = generation_->config.relay.max_messages_per_connection;
  client_config_.chunking = generation_->config.smtp.chunking;
  client_config_.tls_level = destination.tls_level;
  client_config_.implicit_tls = destination.implicit_tls;
  client_config_.credentials = &destination.credentials;
}

void Worker::schedule() {
  // While switching generations no message starts and no connection opens.
  const size_t n = switching_ ? 0 : connection_limit_;
  // 1. Hand ready messages to connections that can take one, round robin.
  for (size_t tries = 0; tries < n && ready_count_ > 0; ++tries) {
    SmtpConnection* c = connections_[next_connection_].get();
    next_connection_ = (next_connection_ + 1) % n;
    if (c->can_take_message()) {
      MessageSlot* slot = ready_[ready_head_];
      ready_head_ = (ready_head_ + 1) % ready_.size();
      --ready_count_;
      c->take_message(slot);
      tries = 0;
    }
  }
  // 2. Open connections for what is left, one per waiting message. While
  // the relay's name does not resolve there is nothing to connect to.
  if (ready_count_ > 0 && n > 0 && !relay_->ready()) {
    metrics_.count_connect_failure(ConnectFailure::kDns);
    defer_ready(relay_->unresolved_reason());
  }
  if (ready_count_ > 0 && n > 0) {
    size_t opening = 0;
    for (const auto& c : connections_) opening += c->is_opening();
    for (size_t i = 0; i < n && opening < ready_count_; ++i) {
      if (connections_[i]->is_closed()) {
        connections_[i]->open();
        ++opening;
      }
    }
  }
  // 3. Idle connections say QUIT after a while, or at once when stopping.
  const uint64_t now = now_ns();
  // A connection that used up max_messages_per_connection says QUIT as
  // soon as it carries nothing; step 2 opens a fresh one next time.
  for (auto& c : connections_) {
    c->check_deadlines(now);
    if (!c->is_idle_ready()) continue;
    if (c->exhausted() || switching_) {
      c->quit();
    } else if (ready_count_ == 0 &&
               (stopping_ ? slots_in_use_ == held_slots_ : now - c->idle_since_ns() > kIdleQuitNs)) {
      c->quit();
    }
  }
}

void Worker::on_connection_ready(SmtpConnection*) {
  // schedule() runs after this batch of completions and hands it work.
}

void Worker::on_connection_closed(SmtpConnection* connection, bool was_ready) {
  if (was_ready) return;
  if (connection->tls_fell_back()) {
    // TLS failed at level may: remember it here, and let schedule() open a
    // new connection, which goes on in clear. Rare (once per hour at most
    // per worker), so it is worth a line for the operator.
    destination_.note_tls_broken(now_ns());
    fmt::print(stderr, "ringmail: worker {}: {}\n", id_, connection->last_error());
    return;
  }
  // A connection that never became ready (every relay address refused,
  // timed out or greeted badly). Unless another connection is ready to carry
  // them, the messages waiting now get decide_relay_unreachable(): waiting
  // for the other attempts in progress would only let each failure reopen
  // a connection for the same messages, for ever.
  for (const auto& c : connections_) {
    if (c.get() != connection && c->is_ready()) return;
  }
  defer_ready(connection->last_error());
}

void Worker::defer_ready(const std::string& reason) {
  const Decision decision = decide_relay_unreachable();
  const RcptState state = decision.verdict == Verdict::kFail ? RcptState::kFailed : RcptState::kDeferred;
  while (ready_count_ > 0) {
    MessageSlot* slot = ready_[ready_head_];
    ready_head_ = (ready_head_ + 1) % ready_.size();
    --ready_count_;
    slot->set_message_reply(reason);
    slot->resolve_all_unresolved(state, reason);
    finish(slot);
  }
}

void Worker::on_attempt_done(MessageSlot* slot) { finish(slot); }

void Worker::on_finished(MessageSlot* slot, OutcomeKind kind, int64_t next_attempt_unix) {
  // The intake counts outcomes from the reports; nothing else to tally here.
  if (reports_.log != nullptr) log_message_end(*reports_.log, *slot, kind, next_attempt_unix);
  WorkerReport report{};
  std::memcpy(report.id, slot->ref.id, sizeof(report.id));
  report.kind = kind;
  report.was_held = slot->held;
  report.partial = slot->partial;
  report.recipients = slot->counts;
  report.next_attempt_unix = next_attempt_unix;
  report.bounce_queued = slot->bounce_written;
  if (slot->held) --held_slots_;
  slot->held = false;
  pending_reports_.push_back(report);  // capacity reserved: one per slot
  free_slots_.push_back(slot);
  --slots_in_use_;
}

void Worker::flush_reports() {
  size_t sent = 0;
  while (sent < pending_reports_.size() && reports_.ring.try_push(pending_reports_[sent])) ++sent;
  if (sent == 0) return;
  pending_reports_.erase(pending_reports_.begin(), pending_reports_.begin() + static_cast<long>(sent));
  reports_.doorbell.ring();
}

}  // namespace ringmail
