// tools/commands.h — the subcommands of the `ringmail` binary.
//
// tools/main.cc parses the command line (CLI11) and calls exactly one of
// these. Each returns the process exit status (0 ok, 64 usage, 65 data error,
// 69/70/71/74/75 as in sysexits.h). They print operator-facing errors to
// stderr as sentences with the cause and the next step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace CLI {
class App;
}

namespace ringmail {

struct InjectOptions {
  std::string sender;                   // -f; "" or "<>" with sender_given = the null sender
  bool sender_given = false;            // -f was given (even as -f ''); else config default_sender
  bool extract_recipients = false;      // -t: recipients from To/Cc/Bcc (Bcc stripped)
  std::vector<std::string> recipients;  // positional
  int input_fd = 0;                     // the message, RFC 5322, read to EOF
};
int cmd_inject(const Config& config, const InjectOptions& options);

struct QueueOptions {
  bool json = false;      // one JSON object instead of the table (or the lines of a verb)
  bool flush = false;     // --flush: SIGUSR2 to the running engine (postqueue -f)
  std::string requeue;    // --requeue ID|ALL (postsuper -r)
  std::string delete_id;  // --delete ID|ALL-DEFERRED|ALL-FAILED|ALL-HELD (postsuper -d)
  std::string show;       // --show ID (postcat -q)
};
int cmd_queue(const Config& config, const QueueOptions& options);

struct RunOptions {
  bool drain = false;  // one pass over the whole queue, then exit 0 or 75
};
int cmd_run(const Config& config, const RunOptions& options);

struct SinkOptions {
  std::string listen = "127.0.0.1:2525";  // HOST:PORT, [v6]:PORT
  uint32_t threads = 1;
  std::string maildir;                    // "" = discard
  uint64_t exit_after = 0;                // exit after this many messages (0 = never)
  uint32_t delay_ms = 0;                  // delay every reply
  std::vector<std::string> rcpt_replies;  // "ADDR=CODE[:COUNT]"
  uint32_t drop_during_data = 0;          // cut the first N messages mid-DATA
  bool no_pipelining = false;             // do not advertise PIPELINING
  bool no_chunking = false;               // do not advertise CHUNKING (BDAT → 502)
  bool no_esmtp = false;                  // answer EHLO with 502 (HELO fallback)
  bool no_8bitmime = false;               // do not advertise 8BITMIME (BODY=8BITMIME → 555)
  bool no_smtputf8 = false;               // do not advertise SMTPUTF8 (SMTPUTF8 → 555)
  uint64_t size_limit = 0;                // announce SIZE n, refuse larger with 552 (0 = 100 MiB)
  std::string stats_file;                 // write final stats (JSON) here at exit
  uint32_t report_interval_ms = 1000;     // live count/rate line on stderr (0 = off)
  std::string tls_cert;                   // PEM chain: offer STARTTLS (or implicit TLS)
  std::string tls_key;                    // PEM key of tls_cert
  bool implicit_tls = false;              // TLS from the first byte (needs tls_cert)
  std::string tls_min_version;            // "1.0".."1.3" ("" = 1.2)
  std::string tls_max_version;            // ("" = 1.3)
  std::string tls_ciphers;                // BoringSSL cipher list ("" = ECDHE + AEAD)
  std::string auth;                       // "USER:PASSWORD": require AUTH PLAIN/LOGIN
};
int cmd_sink(const SinkOptions& options);

struct BenchOptions {
  std::string levels;                  // --levels "none,verify" ("" = all six)
  std::string tls;                     // --tls LEVEL: shorthand for --levels LEVEL
  uint64_t messages = 20'000;          // per run
  uint32_t runs = 3;                   // per level and configuration
  std::string sizes = "2k";            // --size: 1k, 10k, 100k, bytes; comma-separated
  std::string per_connection = "100";  // relay.max_messages_per_connection; comma-separated
  std::string resumption = "on";       // on | off
  std::string cert = "p256";           // p256 | rsa2048
  uint32_t connections = 16;
  uint32_t threads = 0;  // engine workers (0 = one per CPU)
  uint32_t sink_threads = 1;
  std::string spool_base;                 // where the temporary spool goes ("" = /dev/shm, else /tmp)
  bool no_chunking = false;               // smtp.chunking = false: DATA instead of BDAT
  std::string json_file;                  // --json FILE
  std::string svg_file;                   // --svg FILE
  std::vector<std::string> sink_options;  // --sink-option: extra sink flags (tests)
};
int cmd_bench(const BenchOptions& options);
// add_bench_command registers `bench` and its flags on |app|;
// tools/cmd_bench.cc.
CLI::App* add_bench_command(CLI::App& app, BenchOptions& options);

struct BenchIngressOptions {
  uint32_t clients = 50;      // concurrent SMTP connections
  uint64_t messages = 200;    // alerts per connection
  uint32_t runs = 3;          // the median is reported
  std::string size = "2k";    // alert size: "2k" or bytes
  bool bdat = false;          // BDAT n LAST instead of DATA
  uint32_t threads = 0;       // engine workers (0 = one per CPU)
  std::string spool_base;     // where the spool goes ("" = /var/tmp, a disk)
  std::string target;         // HOST:PORT: load this SMTP server only (no engine, no sink)
  double time_limit_s = 120;  // per run
};
int cmd_bench_ingress(const BenchIngressOptions& options);
// add_bench_ingress_command registers `bench-ingress` and its flags on
// |app|; tools/cmd_bench_ingress.cc.
CLI::App* add_bench_ingress_command(CLI::App& app, BenchIngressOptions& options);

struct CheckTlsOptions {
  std::string target;  // HOST[:PORT] or [V6]:PORT; port 25 by default
  bool starttls = false;
  bool implicit = false;  // default: implicit on 465/2465, STARTTLS elsewhere
  std::string ca_file;    // trust store; both empty = the system store
  std::string ca_dir;
  std::string name;            // name to verify (default: HOST)
  std::string save_chain_dir;  // write the chain as PEM files here
  uint32_t timeout_ms = 10'000;
};
int cmd_check_tls(const CheckTlsOptions& options);
// add_check_tls_command registers `check-tls` and its flags (help text with
// the exit codes) on |app|; tools/cmd_check_tls.cc.
CLI::App* add_check_tls_command(CLI::App& app, CheckTlsOptions& options);

// `ringmail hash-password`: a yescrypt hash for a [[listen]] users_file;
// tools/cmd_hash_password.cc.
struct HashPasswordOptions {
  std::string user;  // print "USER:HASH"
};
int cmd_hash_password(const HashPasswordOptions& options);
CLI::App* add_hash_password_command(CLI::App& app, HashPasswordOptions& options);

struct TestSendOptions {
  std::string to;    // --to: the recipient
  std::string from;  // --from: the sender ("" = smtp.default_sender)
};
int cmd_test_send(const Config& config, const TestSendOptions& options);
// add_test_send_command registers `test-send` and its flags (--config bound
// to |config_path|; help text with the exit codes); tools/cmd_test_send.cc.
CLI::App* add_test_send_command(CLI::App& app, TestSendOptions& options, std::string& config_path);

}  // namespace ringmail
