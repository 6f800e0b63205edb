// metrics/metrics_server.h — the Prometheus endpoint: a small HTTP/1.1
// server on its own thread that answers GET /metrics with the page a
// caller-supplied function renders (404 for other paths, 405 for other
// methods, 400/431/408 for bad, oversized or slow requests).
//
// Who uses it: engine/engine.cc when [metrics] listen is set. open() binds
// on the caller's thread (so a busy port stops the start with a sentence);
// start() runs the accept loop. One client at a time, Connection: close:
// a scrape is a few KiB every few seconds. Every client is bounded: 8 KiB of
// request head, 2 s to send it, 5 s to take the answer. It never touches a
// worker: the render function reads the cores' counters with relaxed loads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace ringmail {

class MetricsServer {
 public:
  // Render appends the page body to its argument (metrics thread).
  using Render = std::function<void(std::string&)>;

  static constexpr int kReadTimeoutMs = 2000;
  static constexpr int kWriteTimeoutMs = 5000;

  MetricsServer() = default;
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // open binds and listens on |listen| ("127.0.0.1:9464", "[::1]:9464").
  bool open(std::string_view listen, std::string& error);
  // start serves on a new thread until stop().
  void start(Render render);
  // stop ends the thread (after the client being answered, if any) and closes.
  void stop();
  // port is the bound port (useful with port 0 in tests).
  uint16_t port() const { return port_; }

  // serve_client answers one request on |fd| (connected socket), then
  // returns; the caller closes |fd|. Public for tests.
  void serve_client(int fd);

 private:
  void loop();

  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the loop to end
  uint16_t port_ = 0;
  Render render_;
  std::thread thread_;
  std::string body_;  // reused across scrapes
};

}  // namespace ringmail
