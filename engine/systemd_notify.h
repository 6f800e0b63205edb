// engine/systemd_notify.h — the sd_notify(3) protocol, without libsystemd:
// `ringmail run` under a `Type=notify` unit tells systemd READY=1 once the
// engine runs (spool locked, workers set up), STATUS=... while it delivers
// and STOPPING=1 when it shuts down (packaging/systemd/ringmail.service,
// docs/operations.md).
//
// The protocol: systemd puts the address of an AF_UNIX datagram socket in
// $NOTIFY_SOCKET, an absolute path or "@name" for a name in the abstract
// namespace; each message is one datagram of newline-separated VAR=value
// assignments. The kernel attaches our credentials (systemd sets
// SO_PASSCRED), so nothing else is needed from the main process.
//
// When $NOTIFY_SOCKET is unset every call does nothing. Never used on a
// worker thread: send() is a blocking sendto(2).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <string_view>

namespace ringmail {

// NotifyAddress is a parsed $NOTIFY_SOCKET, ready for sendto(2).
struct NotifyAddress {
  sockaddr_un addr{};
  socklen_t length = 0;
};

// parse_notify_socket parses a $NOTIFY_SOCKET value: an absolute path
// ("/run/systemd/notify") or "@name" (abstract namespace: the '@' becomes
// the leading NUL). False with |error| (a sentence) for an empty value, a
// relative path, a name too long for sun_path, or another address family
// ("vsock:...", which ringmail does not speak).
bool parse_notify_socket(std::string_view value, NotifyAddress& out, std::string& error);

// notify_status_line is the STATUS= assignment for |text|: one line, so any
// CR or LF in |text| becomes a space ("STATUS=delivering: 12 msg/s, ...").
std::string notify_status_line(std::string_view text);

class SystemdNotifier {
 public:
  SystemdNotifier() = default;
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // open_from_environment reads $NOTIFY_SOCKET. Unset or empty: stays
  // disabled and returns true. Set but unusable: stays disabled and returns
  // false with |error| (the caller logs it; the engine runs anyway).
  bool open_from_environment(std::string& error);
  // open targets |address| (a $NOTIFY_SOCKET value). False with |error|.
  bool open(std::string_view address, std::string& error);
  bool enabled() const { return fd_ >= 0; }

  // send sends |message| ("READY=1\nSTATUS=...") as one datagram. True when
  // disabled (nothing to do) or sent; false with errno when sendto failed.
  bool send(std::string_view message);
  // The three messages ringmail sends; each carries a STATUS= line.
  bool ready(std::string_view status) { return send("READY=1\n" + notify_status_line(status)); }
  bool stopping(std::string_view status) { return send("STOPPING=1\n" + notify_status_line(status)); }
  bool status(std::string_view status) { return send(notify_status_line(status)); }

 private:
  int fd_ = -1;
  NotifyAddress address_;
};

}  // namespace ringmail
