// config/listen_config.h — one SMTP listener of `ringmail run`, as the
// `[[listen]]` tables of the config file describe it (issue 10, SMTP
// ingress). config/config.cc parses and validates these; ingress/ and the
// engine's listener adapter read them. docs/config.md documents each key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringmail {

// ListenTls: "none" | "starttls" | "implicit" (SMTPS) | "required" (STARTTLS before MAIL).
enum class ListenTls { kNone, kStartTls, kImplicit, kRequired };
// ListenAuth: "none" | "optional" | "required"; AUTH PLAIN and LOGIN.
enum class ListenAuth { kNone, kOptional, kRequired };

struct ListenConfig {
  std::string address;                  // "127.0.0.1:2525", "[::1]:2525", "0.0.0.0:587"
  ListenTls tls = ListenTls::kNone;     // default: starttls when cert_file is set, else none
  std::string cert_file;                // PEM chain, leaf first
  std::string key_file;                 // its private key
  ListenAuth auth = ListenAuth::kNone;  // needs users_file when not none
  std::string users_file;               // "user:crypt-hash" lines; refused if group/world-readable
  std::vector<std::string> trusted_networks = {"127.0.0.0/8", "::1/128"};  // may send without AUTH
  uint64_t max_message_size = 10 * 1024 * 1024;                            // "10M", "512K", "1G" or bytes
  uint32_t max_connections = 1000;    // this listener, all workers together
  uint32_t max_recipients = 1000;     // per message
  bool allow_plaintext_auth = false;  // offer and accept AUTH without TLS
  std::string hostname;               // greeting, EHLO, Received; "" = smtp.helo_name
  uint32_t max_connections_per_ip = 100;
  uint32_t max_messages_per_minute_per_ip = 0;  // 0 = no limit
  uint32_t max_auth_failures_per_minute_per_ip = 5;
  uint32_t max_errors = 20;                 // error replies before 421 and close
  uint32_t command_timeout_ms = 300'000;    // each command line (and AUTH line)
  uint32_t data_timeout_ms = 600'000;       // between body reads
  uint32_t session_timeout_ms = 3'600'000;  // a whole connection
  bool operator==(const ListenConfig&) const = default;
};

}  // namespace ringmail
