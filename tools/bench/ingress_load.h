// tools/bench/ingress_load.h — the SMTP load client of `ringmail
// bench-ingress`: N concurrent connections on loopback, each sending M
// alerts of a fixed size, as fast as the server answers.
//
// Each connection: greeting, EHLO, then per message one write of
// "MAIL FROM / RCPT TO / DATA" (PIPELINING) and, after the 354, the body
// and "." in one write; or with BDAT one write of MAIL, RCPT and
// "BDAT n LAST" with the body (CHUNKING). Only the final 250 of a message
// counts as accepted. Then QUIT. One thread, one epoll loop: the client
// costs a few µs per message, so on a 2-core machine most of the CPU is
// left to the server being measured.
//
// Who uses it: tools/cmd_bench_ingress.cc (against the engine's listener or
// any SMTP server given with --target). Talks only to the address it is
// given; never touches a spool. Bounded in time (LoadOptions::time_limit_s)
// and in memory (one reply buffer and one message per connection).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringmail::bench {

struct LoadOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal
  uint16_t port = 0;
  uint32_t clients = 50;               // concurrent connections
  uint64_t messages_per_client = 100;  // alerts each connection sends
  uint32_t message_bytes = 2048;       // whole message, headers included
  bool bdat = false;                   // BDAT n LAST instead of DATA (the server must offer CHUNKING)
  double time_limit_s = 60;            // stop (timed_out) after this long
  std::string helo = "load.ringmail.test";
  std::string mail_from = "alerts@example.com";
  std::string rcpt_to = "ops@example.org";
};

struct LoadResult {
  uint64_t accepted = 0;          // final 250s
  uint64_t refused = 0;           // final 4xx/5xx (the message was not taken)
  uint32_t connections_done = 0;  // connections that sent all their messages and QUIT
  double seconds = 0;             // first connect to the last final reply
  bool timed_out = false;
  // Latency of the final reply (body sent → 250), in microseconds.
  double latency_p50_us = 0, latency_p99_us = 0, latency_max_us = 0;
  std::string first_error;  // the first unexpected reply or socket error, "" if none
  double rate() const { return seconds > 0 ? static_cast<double>(accepted) / seconds : 0; }
};

// make_alert builds one alert of exactly |bytes| bytes (at least ~200):
// headers with |message_id| and CRLF lines of printable text, no line
// starting with '.', ending with CRLF. The body of the wire transaction.
std::string make_alert(uint32_t bytes, const std::string& message_id, const std::string& from,
                       const std::string& to);

// run_ingress_load runs the load and fills |out|. False with |error| when it
// cannot run at all (bad address, epoll); otherwise true, and the caller
// judges |out| (a connection refused or an unexpected reply is in
// first_error, a message not accepted is not counted as accepted).
bool run_ingress_load(const LoadOptions& options, LoadResult& out, std::string& error);

}  // namespace ringmail::bench
