// tools/cmd_check_tls.cc — `ringmail check-tls HOST[:PORT]`: what the seeds
// do with `openssl s_client -starttls smtp -showcerts | awk`, in one
// command. It connects, speaks EHLO/STARTTLS (or implicit TLS), runs the
// TLS handshake with TlsSession, and prints the protocol, cipher, group,
// the chain and the verdict in words; --save-chain writes the chain as PEM
// files ready for tls.ca_dir.
//
// A CLI tool, not the engine: blocking sockets with poll() timeouts are fine
// here. It talks to an untrusted server: every reply is parsed with
// engine/smtp_reply, every certificate field is escaped before printing,
// file names come from sanitised CNs, and bytes sent after the 220 to
// STARTTLS fail the check (tls/starttls_guard.h). It sends no mail: EHLO,
// STARTTLS, QUIT only. Exit codes: see kCheckTls* below and docs/tls.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>

#include "engine/smtp_reply.h"
#include "tls/starttls_guard.h"
#include "tls/tls_certificate.h"
#include "tls/tls_client_context.h"
#include "tls/tls_session.h"
#include "tools/blocking_wire.h"
#include "tools/commands.h"
#include "tools/tls_report.h"

namespace ringmail {
namespace {

constexpr int kCheckTlsTrusted = 0;       // chain trusted and name matches
constexpr int kCheckTlsUntrusted = 1;     // chain not trusted (issuer, self-signed, dates)
constexpr int kCheckTlsNameMismatch = 2;  // chain trusted, name does not match
constexpr int kCheckTlsHandshake = 3;     // TLS handshake failed
constexpr int kCheckTlsNoStartTls = 4;    // STARTTLS not offered, refused, or injection
constexpr int kCheckTlsConnect = 5;       // no connection, timeout, SMTP error before TLS
constexpr int kCheckTlsUsage = 64;
constexpr int kCheckTlsSaveFailed = 73;  // EX_CANTCREAT: --save-chain could not write

// Failure carries an exit code and the sentence printed for it.
struct Failure {
  int code = 0;
  std::string text;
};

// Wire is check-tls's connection: a BlockingWire whose failures become
// check-tls's sentences and exit codes.
class Wire {
 public:
  bool connect_to(const std::string& host, uint16_t port, uint32_t timeout_ms, std::string& peer, Failure& f);
  bool send_all(const uint8_t* data, size_t size, Failure& f);
  // recv_some reads what arrives before the deadline; 0 = peer closed.
  bool recv_some(uint8_t* buf, size_t cap, size_t& got, const char* waiting_for, Failure& f);
  std::string where;  // "host:port"
  const char* hint_on_timeout = "";

 private:
  BlockingWire wire_;
  uint32_t timeout_ms_ = 10000;
};

bool Wire::connect_to(const std::string& host, uint16_t port, uint32_t timeout_ms, std::string& peer,
                      Failure& f) {
  timeout_ms_ = timeout_ms;
  bool resolved = true;
  std::string error;
  if (wire_.connect_host(host, port, timeout_ms, peer, resolved, error) == WireStatus::kOk) return true;
  if (!resolved) {
    f = {kCheckTlsConnect, "cannot resolve " + host + ": " + error + "; check the host name"};
  } else {
    f = {kCheckTlsConnect,
         "could not connect to " + where + " (" + error +
             "); check the host and port (STARTTLS: 25, 587, 2587; implicit TLS: 465, 2465) and "
             "any firewall, VPN or allow-list in between"};
  }
  return false;
}

bool Wire::send_all(const uint8_t* data, size_t size, Failure& f) {
  std::string error;
  const WireStatus status = wire_.send_all(data, size, timeout_ms_, error);
  if (status == WireStatus::kOk) return true;
  f = {kCheckTlsConnect, status == WireStatus::kTimedOut ? "sending to " + where + " timed out"
                                                         : "sending to " + where + " failed: " + error};
  return false;
}

bool Wire::recv_some(uint8_t* buf, size_t cap, size_t& got, const char* waiting_for, Failure& f) {
  std::string error;
  const WireStatus status = wire_.recv_some(buf, cap, timeout_ms_, got, error);
  if (status == WireStatus::kOk) return true;
  if (status == WireStatus::kTimedOut) {
    f = {kCheckTlsConnect, "no answer from " + where + " within " + std::to_string(timeout_ms_) +
                               " ms while waiting for " + waiting_for + hint_on_timeout};
  } else {
    f = {kCheckTlsConnect, "reading from " + where + " failed: " + error};
  }
  return false;
}

// SmtpReader accumulates plaintext SMTP replies read from the wire.
class SmtpReader {
 public:
  explicit SmtpReader(Wire& wire) : wire_(wire) {}
  // read_reply waits for one complete reply; |reply| views stay valid until
  // the next call. |rest| tells how many bytes followed it.
  bool read_reply(SmtpReply& reply, const char* waiting_for, Failure& f) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
    for (;;) {
      size_t used = 0;
      const char* error = nullptr;
      ReplyParse r = parse_reply(buffer_.data(), buffer_.size(), reply, used, error);
      if (r == ReplyParse::kComplete) {
        consumed_ = used;
        return true;
      }
      if (r == ReplyParse::kMalformed) {
        f = {kCheckTlsConnect, std::string("the server at ") + wire_.where +
                                   " broke the SMTP protocol while " + "sending " + waiting_for + ": " +
                                   error + " (is this an SMTP port? for implicit TLS use --implicit)"};
        return false;
      }
      uint8_t chunk[4096];
      size_t got = 0;
      if (!wire_.recv_some(chunk, sizeof chunk, got, waiting_for, f)) return false;
      if (got == 0) {
        f = {kCheckTlsConnect, "the server at " + wire_.where +
                                   " closed the connection while ringmail waited for " + waiting_for};
        return false;
      }
      buffer_.append(reinterpret_cast<char*>(chunk), got);
    }
  }
  size_t bytes_after_reply() const { return buffer_.size() - consumed_; }

 private:
  Wire& wire_;
  std::string buffer_;
  size_t consumed_ = 0;
};

bool send_line(Wire& wire, const std::string& line, Failure& f) {
  return wire.send_all(reinterpret_cast<const uint8_t*>(line.data()), line.size(), f);
}

std::string local_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// starttls speaks the plaintext part: greeting, EHLO, STARTTLS, 220.
bool starttls(Wire& wire, Failure& f) {
  SmtpReader reader(wire);
  SmtpReply reply;
  wire.hint_on_timeout = " (the greeting); if this port expects implicit TLS, use --implicit";
  if (!reader.read_reply(reply, "the greeting", f)) return false;
  wire.hint_on_timeout = "";
  if (reply.code != 220) {
    f = {kCheckTlsConnect, "the server greeted with " + std::to_string(reply.code) + " " +
                               printable(reply.text) + " instead of 220; it does not accept a session now"};
    return false;
  }
  if (!send_line(wire, "EHLO " + local_host_name() + "\r\n", f)) return false;
  if (!reader.read_reply(reply, "the reply to EHLO", f)) return false;
  if (reply.code != 250) {
    f = {kCheckTlsNoStartTls, "the server answered EHLO with " + std::to_string(reply.code) + " " +
                                  printable(reply.text) + "; without ESMTP there is no STARTTLS"};
    return false;
  }
  bool offered = false;
  std::string capabilities;
  bool first = true;
  for_each_reply_line(reply, [&](std::string_view line) {
    if (first) {  // the first line is the server's name, not a capability
      first = false;
      return;
    }
    std::string_view keyword = line.substr(0, line.find(' '));
    if (keyword.size() == 8 && ::strncasecmp(keyword.data(), "STARTTLS", 8) == 0) offered = true;
    if (!capabilities.empty()) capabilities += ", ";
    capabilities += printable(keyword);
  });
  if (!offered) {
    f = {kCheckTlsNoStartTls, "the server does not offer STARTTLS (its EHLO reply lists: " +
                                  (capabilities.empty() ? std::string("nothing") : capabilities) +
                                  "); if it uses implicit TLS, try --implicit or port 465; with tls = "
                                  "\"may\" ringmail would send in "
                                  "clear here, with encrypt/verify/secure it defers"};
    return false;
  }
  if (!send_line(wire, "STARTTLS\r\n", f)) return false;
  if (!reader.read_reply(reply, "the reply to STARTTLS", f)) return false;
  std::string reason;
  StartTlsReplyVerdict verdict = judge_starttls_reply(reply.code, reader.bytes_after_reply(), reason);
  if (verdict != StartTlsReplyVerdict::kStartHandshake) {
    f = {kCheckTlsNoStartTls, reason};
    return false;
  }
  return true;
}

// flush sends everything TLS has queued.
bool flush(TlsSession& tls, Wire& wire, Failure& f) {
  auto pending = tls.pending_ciphertext();
  if (pending.empty()) return true;
  if (!wire.send_all(pending.data(), pending.size(), f)) return false;
  tls.consume_ciphertext(pending.size());
  return true;
}

// handshake runs the TLS handshake over |wire|. Bytes TLS cannot take yet
// (its input is bounded) wait in |inbox| and are fed after the next step.
bool handshake(TlsSession& tls, Wire& wire, Failure& f) {
  std::string inbox;
  for (;;) {
    size_t fed = 0;
    while (fed < inbox.size()) {
      size_t n =
          tls.feed_ciphertext(reinterpret_cast<const uint8_t*>(inbox.data()) + fed, inbox.size() - fed);
      if (n == 0) break;
      fed += n;
    }
    inbox.erase(0, fed);
    TlsStep step = tls.handshake();
    Failure send_failure;
    bool sent = flush(tls, wire, send_failure);
    if (step == TlsStep::kFailed) {
      f = {kCheckTlsHandshake, std::string(tls.error())};
      return false;
    }
    if (!sent) {
      f = send_failure;
      return false;
    }
    if (step == TlsStep::kDone) return true;
    if (fed > 0 && !inbox.empty()) continue;  // TLS took some: feed the rest before reading more
    uint8_t buf[16384];
    size_t got = 0;
    if (!wire.recv_some(buf, sizeof buf, got, "the TLS handshake", f)) return false;
    if (got == 0) {
      tls.feed_eof();
      continue;
    }
    inbox.append(reinterpret_cast<char*>(buf), got);
  }
}

// save_chain writes each certificate as DIR/<CN>.pem (CN sanitised; a
// number added when two share a name).
bool save_chain(STACK_OF(X509) * chain, const std::string& dir, std::string& error) {
  if (chain == nullptr || sk_X509_num(chain) == 0) {
    error = "the server sent no certificate to save";
    return false;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create " + dir + ": " + ec.message();
    return false;
  }
  std::set<std::string> used;
  for (size_t i = 0; i < sk_X509_num(chain); i++) {
    X509* cert = sk_X509_value(chain, i);
    std::string stem = cert_file_stem(cert_common_name(cert));
    std::string name = stem;
    for (int n = 2; used.count(name) != 0; n++) name = stem + "-" + std::to_string(n);
    used.insert(name);
    std::string path = dir + "/" + name + ".pem";
    std::ofstream out(path, std::ios::trunc | std::ios::binary);
    out << cert_pem(cert);
    out.close();
    if (!out) {
      error = "cannot write " + path + ": " + std::strerror(errno);
      return false;
    }
    std::printf("saved:     %s (%s)\n", path.c_str(), cert_subject_text(cert).c_str());
  }
  return true;
}

// split_target parses HOST[:PORT], [V6]:PORT, [V6] or a bare IPv6 literal.
bool split_target(const std::string& target, std::string& host, uint16_t& port, bool& port_given) {
  port = 25;
  port_given = false;
  std::string port_text;
  if (!target.empty() && target.front() == '[') {
    size_t close = target.find(']');
    if (close == std::string::npos) return false;
    host = target.substr(1, close - 1);
    if (close + 1 < target.size()) {
      if (target[close + 1] != ':') return false;
      port_text = target.substr(close + 2);
    }
  } else if (std::count(target.begin(), target.end(), ':') == 1) {
    size_t colon = target.find(':');
    host = target.substr(0, colon);
    port_text = target.substr(colon + 1);
  } else {
    host = target;  // a name, IPv4, or a bare IPv6 literal
  }
  if (host.empty()) return false;
  if (!port_text.empty()) {
    char* end = nullptr;
    unsigned long value = std::strtoul(port_text.c_str(), &end, 10);
    if (*end != '\0' || value == 0 || value > 65535) return false;
    port = static_cast<uint16_t>(value);
    port_given = true;
  }
  return true;
}

}  // namespace

CLI::App* add_check_tls_command(CLI::App& app, CheckTlsOptions& options) {
  auto* cmd = app.add_subcommand(
      "check-tls",
      "Connect to an SMTP server, run STARTTLS or implicit TLS, and print the protocol, cipher, group, "
      "certificate chain and the verification verdict in words");
  cmd->add_option("target", options.target, "HOST[:PORT] or [IPV6]:PORT (port 25 by default)")->required();
  cmd->add_flag("--starttls", options.starttls,
                "Plain SMTP first, then STARTTLS (default except on 465/2465)");
  cmd->add_flag("--implicit", options.implicit, "TLS from the first byte (default on ports 465 and 2465)");
  cmd->add_option("--ca", options.ca_file, "Trust these PEM CA certificates (instead of /etc/ssl/certs)");
  cmd->add_option("--ca-dir", options.ca_dir, "Trust every PEM certificate in this directory");
  cmd->add_option("--name", options.name, "Name the certificate must carry (default: HOST)");
  cmd->add_option("--save-chain", options.save_chain_dir,
                  "Write each certificate as DIR/<CN>.pem, ready for tls.ca_dir");
  cmd->add_option("--timeout-ms", options.timeout_ms, "Limit for connect and for each reply")
      ->capture_default_str();
  cmd->footer(
      "Exit codes: 0 trusted and the name matches; 1 chain not trusted (unknown issuer, self-signed, "
      "expired, "
      "not yet valid); 2 chain trusted but the name does not match; 3 TLS handshake failed (no common "
      "version "
      "or cipher, not TLS); 4 STARTTLS not offered or refused, or bytes injected after its 220; 5 cannot "
      "connect, timeout, or SMTP error before TLS; 64 usage or trust store error; 73 --save-chain could not "
      "write. See docs/tls.md.");
  return cmd;
}

int cmd_check_tls(const CheckTlsOptions& options) {
  std::string host;
  uint16_t port = 25;
  bool port_given = false;
  if (!split_target(options.target, host, port, port_given)) {
    std::fprintf(stderr, "ringmail check-tls: \"%s\" is not HOST[:PORT] or [IPV6]:PORT\n",
                 options.target.c_str());
    return kCheckTlsUsage;
  }
  if (options.starttls && options.implicit) {
    std::fprintf(stderr, "ringmail check-tls: give --starttls or --implicit, not both\n");
    return kCheckTlsUsage;
  }
  bool implicit = options.implicit || (!options.starttls && (port == 465 || port == 2465));

  TlsPolicy policy;
  policy.level = TlsLevel::kEncrypt;  // finish the handshake whatever the certificate; judge it after
  policy.session_resumption = false;
  if (!options.ca_file.empty() || !options.ca_dir.empty()) {
    policy.ca_file = options.ca_file;
    policy.ca_dir = options.ca_dir;
  }
  std::string error;
  auto ctx = TlsClientContext::create(policy, error);
  if (!ctx) {
    // The loader names config keys; here the operator gave flags.
    for (auto [key, flag] : {std::pair{"tls.ca_file", "--ca"}, std::pair{"tls.ca_dir", "--ca-dir"}}) {
      if (error.rfind(key, 0) == 0) error.replace(0, std::strlen(key), flag);
    }
    std::fprintf(stderr, "ringmail check-tls: %s\n", error.c_str());
    return kCheckTlsUsage;
  }
  TlsPeerNames names = tls_peer_names(TlsLevel::kVerify, host, "");
  if (!options.name.empty()) {
    names.verify_name = options.name;
    if (!is_ip_literal(options.name)) names.sni = options.name;
  }

  Wire wire;
  wire.where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  Failure f;
  std::string peer;
  if (!wire.connect_to(host, port, options.timeout_ms, peer, f)) {
    std::fprintf(stderr, "ringmail check-tls: %s\n", f.text.c_str());
    return f.code;
  }
  std::printf("connected: %s (%s), %s\n", wire.where.c_str(), peer.c_str(),
              implicit ? "implicit TLS" : "STARTTLS");
  if (!implicit && !starttls(wire, f)) {
    std::fprintf(stderr, "ringmail check-tls: %s\n", f.text.c_str());
    return f.code;
  }
  TlsSession tls;
  if (!tls.start_client(*ctx, names, nullptr)) {
    std::fprintf(stderr, "ringmail check-tls: %s\n", std::string(tls.error()).c_str());
    return kCheckTlsHandshake;
  }
  wire.hint_on_timeout = implicit ? "; if this port speaks plain SMTP first, use --starttls"
                                  : "; the server accepted STARTTLS but "
                                    "did not complete the handshake";
  if (!handshake(tls, wire, f)) {
    std::fprintf(stderr, "ringmail check-tls: %s\n", f.text.c_str());
    return f.code;
  }
  print_tls_facts(stdout, "", tls, *ctx, names.sni, TlsLevel::kVerify);
  const TlsVerdict& verdict = tls.verdict();

  int code = kCheckTlsTrusted;
  if (!verdict.chain_trusted) {
    code = kCheckTlsUntrusted;
  } else if (!verdict.name_matches) {
    code = kCheckTlsNameMismatch;
  }
  if (!options.save_chain_dir.empty()) {
    if (!save_chain(tls.peer_chain(), options.save_chain_dir, error)) {
      std::fprintf(stderr, "ringmail check-tls: --save-chain: %s\n", error.c_str());
      code = kCheckTlsSaveFailed;
    } else {
      std::printf("to trust it: set tls.ca_dir = \"%s\" (every certificate there is a trust anchor)\n",
                  options.save_chain_dir.c_str());
    }
  }
  // Polite end: QUIT over TLS, then close_notify.
  size_t written = 0;
  if (tls.write_plaintext("QUIT\r\n", 6, written) == TlsIo::kOk) {
    tls.close();
    Failure ignored;
    flush(tls, wire, ignored);
  }
  return code;
}

}  // namespace ringmail
