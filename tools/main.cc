// tools/main.cc — the `ringmail` command line: parses subcommands and their
// flags (CLI11), loads the config, and hands over to tools/cmd_*.cc.
// It never does delivery work itself.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "config/config.h"
#include "tools/commands.h"

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitConfig = 78;

bool load_or_complain(const std::string& path, ringmail::Config& config) {
  std::string error;
  if (ringmail::load_config(path, config, error)) return true;
  std::fprintf(stderr, "ringmail: %s\n", error.c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringmail — bulk alert mail delivery engine (io_uring, thread-per-core)"};
  app.require_subcommand(1);
  std::string config_path = "/etc/ringmail/ringmail.toml";

  ringmail::InjectOptions inject;
  auto* inject_cmd = app.add_subcommand(
      "inject", "Queue one message read from stdin, like sendmail -f SENDER RCPT... / sendmail -t");
  inject_cmd->add_option("--config,-c", config_path, "Config file")->capture_default_str();
  inject_cmd->add_option(
      "-f", inject.sender,
      "Envelope sender (default: smtp.default_sender); -f '' or -f '<>' is the null sender");
  inject_cmd->add_flag("-t", inject.extract_recipients,
                       "Take recipients from To/Cc/Bcc (added to any given); Bcc is removed");
  inject_cmd->add_option("recipients", inject.recipients, "Envelope recipients");

  ringmail::RunOptions run;
  auto* run_cmd = app.add_subcommand(
      "run", "Deliver the spool (daemon). SIGTERM/SIGINT: finish in-flight deliveries, exit 0");
  run_cmd->add_option("--config,-c", config_path, "Config file")->capture_default_str();
  run_cmd->add_flag("--drain", run.drain,
                    "One pass: attempt every queued message once (deferred too); exit 0 if the "
                    "queue is then empty, 75 if messages stay deferred");

  ringmail::QueueOptions queue;
  auto* queue_cmd = app.add_subcommand(
      "queue",
      "Show the spool (counts per state, oldest message, deferred messages and why); with a verb, flush, "
      "requeue, delete or show messages (postqueue -f, postsuper -r/-d, postcat -q)");
  queue_cmd->add_option("--config,-c", config_path, "Config file")->capture_default_str();
  queue_cmd->add_flag("--json", queue.json, "Print one JSON object");
  auto* queue_flush = queue_cmd->add_flag(
      "--flush", queue.flush,
      "Ask the running engine (SIGUSR2) to retry every deferred message now; exit 69 if no engine runs");
  auto* queue_requeue = queue_cmd->add_option(
      "--requeue", queue.requeue,
      "ID|ALL: deferred -> due now; hold -> deferred; failed -> deferred, its failed recipients tried again "
      "(done ones never); then flush the running engine");
  auto* queue_delete = queue_cmd->add_option(
      "--delete", queue.delete_id,
      "ID|ALL-DEFERRED|ALL-FAILED|ALL-HELD: remove the message and its meta record (incoming/ and active/ "
      "only while no engine runs)");
  auto* queue_show = queue_cmd->add_option("--show", queue.show,
                                           "ID: state, envelope, recipients, attempts, replies, headers");
  queue_flush->excludes(queue_requeue, queue_delete, queue_show);
  queue_requeue->excludes(queue_delete, queue_show);
  queue_delete->excludes(queue_show);
  queue_cmd->footer(
      "Exit status: 0 done; 64 usage; 65 refused: the operator must decide (a held message without a record, "
      "a malformed record); 66 no such message; 69 --flush: no engine runs (`ringmail run --drain` retries "
      "everything once); 74 the spool cannot be read or changed; 75 refused: the message is in flight "
      "(incoming/ or active/ while an engine runs); 77 the engine runs as another user. With several "
      "messages, "
      "the worst of these.");

  ringmail::SinkOptions sink;
  auto* sink_cmd = app.add_subcommand(
      "sink", "Fast io_uring SMTP sink for tests and benchmarks: accepts, discards, counts");
  sink_cmd->add_option("--listen,-l", sink.listen, "HOST:PORT or [V6]:PORT")->capture_default_str();
  sink_cmd->add_option("--threads", sink.threads, "Server threads (one io_uring each)")
      ->capture_default_str();
  sink_cmd->add_option("--maildir", sink.maildir, "Write each message into this Maildir");
  sink_cmd->add_option("--exit-after", sink.exit_after, "Exit after this many messages");
  sink_cmd->add_option("--delay-ms", sink.delay_ms, "Delay every reply by this much");
  sink_cmd->add_option("--rcpt-reply", sink.rcpt_replies,
                       "ADDR=CODE[:COUNT]: answer RCPT TO:<ADDR> with CODE (the first COUNT times)");
  sink_cmd->add_option(
      "--drop-during-data", sink.drop_during_data,
      "Cut the connection in the middle of DATA (or BDAT chunk bytes) for the first N messages");
  sink_cmd->add_flag("--no-pipelining", sink.no_pipelining, "Do not advertise PIPELINING");
  sink_cmd->add_flag("--no-chunking", sink.no_chunking,
                     "Do not advertise CHUNKING (RFC 3030); BDAT is then an unknown command");
  sink_cmd->add_flag("--no-esmtp", sink.no_esmtp, "Answer EHLO with 502 (clients fall back to HELO)");
  sink_cmd->add_flag("--no-8bitmime", sink.no_8bitmime,
                     "Do not advertise 8BITMIME (RFC 6152); MAIL with BODY=8BITMIME gets 555");
  sink_cmd->add_flag("--no-smtputf8", sink.no_smtputf8,
                     "Do not advertise SMTPUTF8 (RFC 6531); non-ASCII addresses then get 553");
  sink_cmd->add_option("--size-limit", sink.size_limit,
                       "Announce SIZE BYTES and refuse larger messages with 552 (default 104857600)");
  sink_cmd->add_option("--stats-file", sink.stats_file, "Write final statistics (JSON) here at exit");
  sink_cmd
      ->add_option("--report-interval-ms", sink.report_interval_ms,
                   "Live count/rate line on stderr every N ms (0 = off)")
      ->capture_default_str();
  sink_cmd->add_option("--tls-cert", sink.tls_cert, "PEM certificate chain: offer STARTTLS");
  sink_cmd->add_option("--tls-key", sink.tls_key, "PEM private key of --tls-cert");
  sink_cmd->add_flag("--implicit-tls", sink.implicit_tls, "TLS from the first byte (needs --tls-cert)");
  sink_cmd->add_option("--tls-min-version", sink.tls_min_version, "Lowest TLS version: 1.0, 1.1, 1.2, 1.3");
  sink_cmd->add_option("--tls-max-version", sink.tls_max_version, "Highest TLS version");
  sink_cmd->add_option("--tls-ciphers", sink.tls_ciphers, "BoringSSL cipher list (TLS 1.2 and below)");
  sink_cmd->add_option("--auth", sink.auth,
                       "USER:PASSWORD: offer AUTH PLAIN LOGIN (in clear too, counted) and require it");

  ringmail::BenchOptions bench;
  auto* bench_cmd = ringmail::add_bench_command(app, bench);
  ringmail::BenchIngressOptions bench_ingress;
  auto* bench_ingress_cmd = ringmail::add_bench_ingress_command(app, bench_ingress);

  ringmail::CheckTlsOptions check_tls;
  auto* check_tls_cmd = ringmail::add_check_tls_command(app, check_tls);

  ringmail::HashPasswordOptions hash_password;
  auto* hash_password_cmd = ringmail::add_hash_password_command(app, hash_password);

  ringmail::TestSendOptions test_send;
  auto* test_send_cmd = ringmail::add_test_send_command(app, test_send, config_path);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (*sink_cmd) return ringmail::cmd_sink(sink);
  if (*bench_cmd) return ringmail::cmd_bench(bench);
  if (*bench_ingress_cmd) return ringmail::cmd_bench_ingress(bench_ingress);
  if (*check_tls_cmd) return ringmail::cmd_check_tls(check_tls);
  if (*hash_password_cmd) return ringmail::cmd_hash_password(hash_password);

  ringmail::Config config;
  if (!load_or_complain(config_path, config)) return kExitConfig;
  if (*inject_cmd) {
    inject.sender_given = inject_cmd->count("-f") > 0;  // -f '' is the null sender, as in sendmail
    return ringmail::cmd_inject(config, inject);
  }
  if (*run_cmd) return ringmail::cmd_run(config, run);
  if (*queue_cmd) return ringmail::cmd_queue(config, queue);
  if (*test_send_cmd) return ringmail::cmd_test_send(config, test_send);
  return kExitUsage;
}
