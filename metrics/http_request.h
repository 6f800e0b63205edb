// metrics/http_request.h — the little HTTP/1.x the metrics endpoint needs:
// the request head (method and path; headers are read to their end and
// ignored), the answer for a method and path, and the listen address.
//
// Who calls it: metrics/metrics_server.cc, on bytes from any local client;
// pure (no I/O), so it is tested at every byte split.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail {

// kMaxRequestHeadBytes bounds a request head: more is answered 431.
inline constexpr size_t kMaxRequestHeadBytes = 8192;

enum class HeadStatus { kIncomplete, kComplete, kBad };

struct RequestHead {
  std::string_view method;  // views into the buffer parsed
  std::string_view path;    // the target without its query string
};

// parse_request_head looks for a whole head ("...\r\n\r\n", bare "\n\n"
// also accepted) in |buffer| and splits its request line. kBad: the
// request line is not METHOD SP TARGET SP HTTP/x.y.
HeadStatus parse_request_head(std::string_view buffer, RequestHead& out);

// MetricsRoute is what the endpoint answers.
enum class MetricsRoute { kMetrics, kNotFound, kMethodNotAllowed };
// route_request: GET (or HEAD) /metrics → kMetrics; another method → 405;
// another path → 404.
MetricsRoute route_request(const RequestHead& head);

// parse_listen_address parses "127.0.0.1:9464", "[::1]:9464" or
// "localhost:9464" (IPv4 or IPv6 literals in brackets; "localhost" is
// 127.0.0.1) into |addr|/|len|. False with a sentence in |error|.
bool parse_listen_address(std::string_view text, sockaddr_storage& addr, socklen_t& len, std::string& error);

}  // namespace ringmail
