// engine/ingress_server.h — a worker's share of the SMTP listeners: per
// [[listen]] its own listening socket (SO_REUSEPORT: the kernel spreads
// connections over the workers' sockets) with a multishot accept on the
// worker's ring, and a fixed pool of IngressConnections (the worker's share
// of the listener's max_connections); and the worker's end of the commit
// thread (submits, acks).
//
// Who uses it: engine/worker.cc, when the engine has listeners: start()
// after the ring exists, poll() every loop turn (acks, submits that found
// the commit thread full, shutdown), begin_stop() at SIGTERM, idle() to
// know when the worker may end.
//
// At the limits (docs/ingress.md "Listeners"): a connection beyond the
// pool is accepted, told "421 4.7.0 Too many connections, try again later"
// and closed; one beyond max_connections_per_ip likewise with "421 4.7.0
// Too many connections from your address". Accepting goes on, so a flood
// costs a send and a close each and never queues in the kernel's backlog.
// No allocation after start-up except the spool buffers' growth.
#pragma once

#include <linux/time_types.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/ingress_connection.h"
#include "engine/ingress_setup.h"
#include "engine/uring.h"

namespace ringmail {

class Worker;
class IngressServer;

// IngressPort is one [[listen]] on one worker: the listening socket, its
// accept, and the connection pool.
class IngressPort {
 public:
  IngressPort(IngressServer* server, const IngressListener* listener, int fd, uint32_t connections,
              uint64_t first_token);
  ~IngressPort();
  IngressPort(const IngressPort&) = delete;
  IngressPort& operator=(const IngressPort&) = delete;

  void arm_accept();
  // stop_accepting cancels the accept and closes the listening socket.
  void stop_accepting();
  // release puts |connection| back on the free stack (its socket is closed).
  void release(IngressConnection* connection);

  IngressServer& server() { return *server_; }
  const IngressListener& listener() const { return *listener_; }
  std::vector<std::unique_ptr<IngressConnection>>& connections() { return connections_; }
  bool accept_armed() const { return accept_armed_; }

 private:
  void on_accept(int res, uint32_t flags);
  void on_accept_retry(int res, uint32_t flags);
  void accepted(int fd);
  void refuse(int fd, const sockaddr_storage& peer, std::string_view reason, std::string_view reply);

  IngressServer* server_;
  const IngressListener* listener_;
  int fd_;
  bool accept_armed_ = false;
  bool retry_armed_ = false;
  bool stopped_ = false;
  std::vector<std::unique_ptr<IngressConnection>> connections_;
  std::vector<IngressConnection*> free_;       // stack
  __kernel_timespec retry_ts_{0, 10'000'000};  // after an accept error (EMFILE...): 10 ms
  MemberCompletion<IngressPort, &IngressPort::on_accept> accept_c_{this};
  MemberCompletion<IngressPort, &IngressPort::on_accept_retry> retry_c_{this};
};

class IngressServer {
 public:
  // IngressServer takes worker |worker|'s listening sockets out of |setup|
  // and builds its connection pools (allocation happens here, once).
  IngressServer(Worker* worker, IngressSetup* setup);
  ~IngressServer();

  // start arms the accepts (worker thread, once the ring exists).
  void start();
  // poll: pops the commit thread's acks for this worker, retries submits
  // that found it full, and when stopping tells new idle connections to go.
  // Returns the number of acks taken.
  uint32_t poll();
  // begin_stop: stop accepting; every connection finishes what it does,
  // then says 421 4.3.2 and closes.
  void begin_stop();
  // idle: no connection open and no commit outstanding.
  bool idle() const;
  // commits_waiting: a message waits for the commit thread (its ack rings
  // this worker's doorbell); submit_waiting: one waits for room in it.
  bool commits_waiting() const { return commits_in_flight_ > 0; }
  bool submit_waiting() const { return submits_waiting_ > 0; }
  // wait_for_commits blocks (sleeping 1 ms at a time) until every message
  // this worker handed to the commit thread is acked: the thread reads the
  // connections' buffers until then. Only at exit, when the worker abandons.
  void wait_for_commits();

  // For connections.
  Worker& worker() { return *worker_; }
  // submit offers |request| to the commit thread; false: it is full, and
  // poll() calls the connection's retry_submit() on later turns, which
  // offers it with resubmit() until it goes in.
  bool submit(const ingress::CommitRequest& request);
  bool resubmit(const ingress::CommitRequest& request);
  void commit_done() { --commits_in_flight_; }
  void next_id(char (&id)[64]);
  bool stopping() const { return stopping_; }

 private:
  Worker* worker_;
  IngressSetup* setup_;
  std::vector<std::unique_ptr<IngressPort>> ports_;
  std::vector<IngressConnection*> by_token_;
  uint32_t commits_in_flight_ = 0;  // submitted, ack not yet popped
  uint32_t submits_waiting_ = 0;    // not yet taken by the commit thread
  uint64_t id_counter_ = 0;
  bool stopping_ = false;
};

}  // namespace ringmail
