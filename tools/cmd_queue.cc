// tools/cmd_queue.cc — `ringmail queue`: what is in the spool and why
// deferred messages wait (queue/spool_report.h), and the operator's verbs,
// named as Postfix users expect them:
//   --flush            postqueue -f: SIGUSR2 to the running engine, which
//                      rescans deferred/ and makes every message due now
//   --requeue ID|ALL   postsuper -r: deferred → due now, hold → deferred,
//                      failed → deferred (its failed recipients tried again)
//   --delete ID|ALL-*  postsuper -d: the file and its meta record
//   --show ID          postcat -q: envelope, recipient states, replies, headers
// (queue/queue_admin.h does the spool work; this file parses, prints and
// picks the exit status).
//
// The plain report and --show never create, move or delete anything, so
// they are safe beside a running engine. --requeue and --delete change only
// what the engine does not hold (docs/spool.md, "Administering the queue").
// Results go to stdout, one line per message; refusals and errors to stderr
// as sentences. Bytes from servers and producers are escaped.
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "log/delivery_event.h"
#include "log/delivery_log.h"
#include "queue/queue_admin.h"
#include "queue/spool_layout.h"
#include "queue/spool_report.h"
#include "tools/commands.h"
#include "tools/operator_text.h"

namespace ringmail {
namespace {

constexpr int kQueueExitOk = 0;
constexpr int kQueueExitUsage = 64;         // EX_USAGE: not a message id
constexpr int kQueueExitRefused = 65;       // EX_DATAERR: the operator must decide (see the sentence)
constexpr int kQueueExitNoMessage = 66;     // EX_NOINPUT: no state holds that id
constexpr int kQueueExitNoEngine = 69;      // EX_UNAVAILABLE: --flush with no engine running
constexpr int kQueueExitIo = 74;            // EX_IOERR: the spool or stdout cannot be used
constexpr int kQueueExitInFlight = 75;      // EX_TEMPFAIL: in incoming/ or active/ while an engine runs
constexpr int kQueueExitNoPermission = 77;  // EX_NOPERM: the engine runs as another user

// kShowTextMaxChars bounds one escaped text of --show (a reply, a header line).
constexpr size_t kShowTextMaxChars = 4000;

// worse picks the exit status that says more: an I/O error over a refusal
// over an in-flight message over a missing one.
int worse(int a, int b) {
  auto rank = [](int code) {
    switch (code) {
      case kQueueExitIo:
        return 4;
      case kQueueExitRefused:
        return 3;
      case kQueueExitInFlight:
        return 2;
      case kQueueExitNoMessage:
        return 1;
      default:
        return 0;
    }
  };
  return rank(b) > rank(a) ? b : a;
}

int exit_of(AdminOutcome outcome) {
  switch (outcome) {
    case AdminOutcome::kDone:
      return kQueueExitOk;
    case AdminOutcome::kNotFound:
      return kQueueExitNoMessage;
    case AdminOutcome::kInFlight:
      return kQueueExitInFlight;
    case AdminOutcome::kRefused:
      return kQueueExitRefused;
    case AdminOutcome::kIoError:
      return kQueueExitIo;
  }
  return kQueueExitIo;
}

const char* outcome_name(AdminOutcome outcome) {
  switch (outcome) {
    case AdminOutcome::kDone:
      return "done";
    case AdminOutcome::kNotFound:
      return "not_found";
    case AdminOutcome::kInFlight:
      return "in_flight";
    case AdminOutcome::kRefused:
      return "refused";
    case AdminOutcome::kIoError:
      return "io_error";
  }
  return "io_error";
}

bool write_stdout(const std::string& out) {
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "ringmail queue: cannot write to standard output\n");
    return false;
  }
  return true;
}

int show_report(const Config& config, const QueueOptions& options) {
  SpoolDirs dirs;
  std::vector<std::string> missing;  // a producer's partial spool, or one without hold/
  std::string error;
  if (!open_spool_for_reading(config.spool, dirs, missing, error)) {
    std::fprintf(stderr, "ringmail queue: %s\n", error.c_str());
    return kQueueExitIo;
  }
  SpoolReport report;
  if (!collect_spool_report(dirs, config.smtp.default_sender, kReportListLimit, report, error, missing)) {
    std::fprintf(stderr, "ringmail queue: %s\n", error.c_str());
    return kQueueExitIo;
  }
  const int64_t now_unix = static_cast<int64_t>(::time(nullptr));
  std::string out;
  if (options.json) {
    format_spool_report_json(report, now_unix, out);
  } else {
    format_spool_report_text(report, now_unix, out);
  }
  return write_stdout(out) ? kQueueExitOk : kQueueExitIo;
}

// FlushResult is what signalling the engine gave.
struct FlushResult {
  int exit_code = kQueueExitOk;
  long pid = 0;
  bool flushed = false;
  std::string text;  // the sentence: stdout when flushed, else stderr
};

// flush_engine sends SIGUSR2 to the engine that holds the spool lock.
FlushResult flush_engine(const SpoolDirs& dirs) {
  FlushResult r;
  std::string error;
  switch (probe_engine(dirs, r.pid, error)) {
    case EngineState::kUnknown:
      r.exit_code = kQueueExitIo;
      r.text = error;
      return r;
    case EngineState::kNotRunning:
      r.exit_code = kQueueExitNoEngine;
      r.text = "no ringmail engine runs on spool " + dirs.root + " (its lock " + dirs.root +
               "/ringmail.lock is free): deferred messages wait for the next `ringmail run`; `ringmail run "
               "--drain` retries every queued message once now";
      return r;
    case EngineState::kRunning:
      break;
  }
  if (r.pid <= 0) {
    r.exit_code = kQueueExitInFlight;
    r.text =
        "the engine on spool " + dirs.root + " is starting (its PID is not in ringmail.lock yet); try again";
    return r;
  }
  if (::kill(static_cast<pid_t>(r.pid), SIGUSR2) != 0) {
    const int err = errno;
    r.exit_code = err == EPERM ? kQueueExitNoPermission : kQueueExitNoEngine;
    r.text = err == EPERM
                 ? "cannot signal the engine (PID " + std::to_string(r.pid) +
                       "): it runs as another user; run this as the user that owns the spool"
                 : "the engine (PID " + std::to_string(r.pid) + ") stopped meanwhile: " + std::strerror(err);
    return r;
  }
  r.flushed = true;
  r.text = "asked the engine (PID " + std::to_string(r.pid) +
           ") to retry every deferred message now (SIGUSR2); its log says how many";
  return r;
}

void flush_json(const FlushResult& r, std::string& out) {
  out += "\"engine_pid\":";
  out += r.pid > 0 ? std::to_string(r.pid) : "null";
  out += ",\"flushed\":";
  out += r.flushed ? "true" : "false";
  out += ",\"flush_text\":";
  append_json_string(r.text, out);
}

// open_spool_or_say opens the spool for an admin verb: every directory
// (|writable|: the verb moves files) or what exists (a partial spool reads
// as empty). On failure it says why on stderr.
bool open_spool_or_say(const Config& config, bool writable, SpoolDirs& dirs) {
  std::string error;
  std::vector<std::string> missing;
  const bool ok = writable ? open_spool(config.spool, /*create=*/false, dirs, error)
                           : open_spool_for_reading(config.spool, dirs, missing, error);
  if (!ok) std::fprintf(stderr, "ringmail queue: %s\n", error.c_str());
  return ok;
}

int cmd_flush(const Config& config, const QueueOptions& options) {
  SpoolDirs dirs;
  if (!open_spool_or_say(config, /*writable=*/false, dirs)) return kQueueExitIo;
  const FlushResult r = flush_engine(dirs);
  if (options.json) {
    std::string out = "{";
    flush_json(r, out);
    out += "}\n";
    if (!write_stdout(out)) return kQueueExitIo;
  } else if (r.flushed) {
    if (!write_stdout(r.text + "\n")) return kQueueExitIo;
  }
  if (!r.flushed) std::fprintf(stderr, "ringmail queue: %s\n", r.text.c_str());
  return r.exit_code;
}

// Target is one message a verb acts on.
struct Target {
  std::string id;
  SpoolState state;
};

// resolve_one finds the message |id| for a verb; false with |exit_code|
// after saying why.
bool resolve_one(const SpoolDirs& dirs, const std::string& id, std::vector<Target>& targets, int& exit_code) {
  if (!is_valid_message_id(id)) {
    std::fprintf(stderr,
                 "ringmail queue: '%s' is not a message id (1..63 printable ASCII characters, no '/')\n",
                 escape_for_operator(id).c_str());
    exit_code = kQueueExitUsage;
    return false;
  }
  SpoolState state;
  if (!find_message(dirs, id, state)) {
    std::fprintf(stderr,
                 "ringmail queue: no message %s in spool %s (delivered, deleted, or a mistyped id; `ringmail "
                 "queue` lists them)\n",
                 id.c_str(), dirs.root.c_str());
    exit_code = kQueueExitNoMessage;
    return false;
  }
  targets.push_back({id, state});
  return true;
}

bool resolve_all(const SpoolDirs& dirs, std::initializer_list<SpoolState> states,
                 std::vector<Target>& targets) {
  for (const SpoolState state : states) {
    std::vector<std::string> ids;
    std::string error;
    if (!list_messages(dirs, state, ids, error)) {
      std::fprintf(stderr, "ringmail queue: %s\n", error.c_str());
      return false;
    }
    for (std::string& id : ids) targets.push_back({std::move(id), state});
  }
  return true;
}

// report_results prints each result (done: stdout; else stderr) or, with
// --json, one object; returns the worst exit status.
int report_results(const std::vector<AdminResult>& results, const FlushResult* flush, bool json) {
  int code = kQueueExitOk;
  std::string out;
  if (json) out = "{\"messages\":[";
  bool first = true;
  for (const AdminResult& r : results) {
    code = worse(code, exit_of(r.outcome));
    if (json) {
      out += first ? "{" : ",{";
      first = false;
      out += "\"id\":";
      append_json_string(r.id, out);
      out += ",\"from\":\"";
      out += spool_state_name(r.from);
      out += "\",\"outcome\":\"";
      out += outcome_name(r.outcome);
      out += "\",\"pending\":";
      out += r.pending >= 0 ? std::to_string(r.pending) : "null";
      out += ",\"text\":";
      append_json_string(r.text, out);
      out += "}";
    } else if (r.outcome == AdminOutcome::kDone) {
      out += r.text + "\n";
    }
    if (r.outcome != AdminOutcome::kDone) std::fprintf(stderr, "ringmail queue: %s\n", r.text.c_str());
  }
  if (json) {
    out += "]";
    if (flush != nullptr) {
      out += ",";
      flush_json(*flush, out);
    }
    out += "}\n";
  } else if (flush != nullptr && flush->flushed) {
    out += flush->text + "\n";
  }
  if (flush != nullptr && !flush->flushed) std::fprintf(stderr, "ringmail queue: %s\n", flush->text.c_str());
  if (!write_stdout(out)) return kQueueExitIo;
  return code;
}

int cmd_requeue(const Config& config, const QueueOptions& options) {
  SpoolDirs dirs;
  if (!open_spool_or_say(config, /*writable=*/true, dirs)) return kQueueExitIo;
  std::vector<Target> targets;
  int code = kQueueExitOk;
  if (options.requeue == "ALL") {
    if (!resolve_all(dirs, {SpoolState::kDeferred, SpoolState::kHold, SpoolState::kFailed}, targets))
      return kQueueExitIo;
  } else if (!resolve_one(dirs, options.requeue, targets, code)) {
    return code;
  }
  std::vector<AdminResult> results;
  bool any_done = false;
  for (const Target& t : targets) {
    results.push_back(requeue_message(dirs, t.id, t.state, config.smtp.default_sender));
    any_done |= results.back().outcome == AdminOutcome::kDone;
  }
  // The engine keeps deferred messages' times in memory: flush it so it
  // rescans deferred/ and sees them. No engine: the next start reads them.
  FlushResult flush;
  if (any_done) {
    flush = flush_engine(dirs);
    if (flush.exit_code == kQueueExitNoEngine) {
      flush.exit_code = kQueueExitOk;
      flush.flushed = false;
      flush.text =
          "no engine runs: the requeued messages go out at the next `ringmail run` (or `ringmail run "
          "--drain`)";
    }
  }
  if (targets.empty() && !options.json)
    std::printf("nothing to requeue: no deferred, held or failed message\n");
  const int result = report_results(results, any_done ? &flush : nullptr, options.json);
  return worse(result, any_done ? flush.exit_code : kQueueExitOk);
}

// log_deleted appends the "deleted" line to the delivery log file, the
// engine's own (O_APPEND: one write per line, never interleaved with the
// engine's lines). Not with "-": the engine's stdout is not ours.
void log_deleted(const Config& config, const AdminResult& result) {
  const std::string& path = config.log.delivery;
  if (path.empty() || path == "-") return;
  MessageEvent event;
  event.kind = MessageEventKind::kDeleted;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  event.time_ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
  event.id = result.id;
  event.state = spool_state_name(result.from);
  event.reason = "deleted by an operator (ringmail queue --delete)";
  char line[1024];
  const size_t len = format_message_json(event, line, sizeof(line));
  std::string error;
  if (!append_log_line(path, line, len, error)) std::fprintf(stderr, "ringmail queue: %s\n", error.c_str());
}

int cmd_delete(const Config& config, const QueueOptions& options) {
  std::string error;
  SpoolDirs dirs;
  if (!open_spool_or_say(config, /*writable=*/true, dirs)) return kQueueExitIo;
  std::vector<Target> targets;
  int code = kQueueExitOk;
  const std::string& what = options.delete_id;
  bool ok = true;
  if (what == "ALL-DEFERRED") {
    ok = resolve_all(dirs, {SpoolState::kDeferred}, targets);
  } else if (what == "ALL-FAILED") {
    ok = resolve_all(dirs, {SpoolState::kFailed}, targets);
  } else if (what == "ALL-HELD") {
    ok = resolve_all(dirs, {SpoolState::kHold}, targets);
  } else if (!resolve_one(dirs, what, targets, code)) {
    return code;
  }
  if (!ok) return kQueueExitIo;
  long pid = 0;
  const EngineState engine = probe_engine(dirs, pid, error);
  // Not knowing is treated as running: nothing in flight is touched.
  const bool engine_running = engine != EngineState::kNotRunning;
  std::vector<AdminResult> results;
  for (const Target& t : targets) {
    results.push_back(delete_message(dirs, t.id, t.state, engine_running, config.smtp.default_sender));
    if (results.back().outcome == AdminOutcome::kDone) log_deleted(config, results.back());
  }
  if (targets.empty() && !options.json) std::printf("nothing to delete\n");
  return report_results(results, nullptr, options.json);
}

const char* recipient_state_name(RecipientDetail::State state) {
  switch (state) {
    case RecipientDetail::State::kPending:
      return "pending";
    case RecipientDetail::State::kDone:
      return "done";
    case RecipientDetail::State::kFailed:
      return "failed";
  }
  return "pending";
}

std::string when_text(int64_t unix_s, int64_t now) {
  if (unix_s == 0) return "-";
  std::string out = format_utc_time(unix_s);
  out += unix_s > now ? " (in " + format_duration(unix_s - now) + ")"
                      : " (" + format_duration(now - unix_s) + " ago)";
  return out;
}

void show_text(const MessageDetails& d, int64_t now, std::string& out) {
  auto field = [&out](const char* name, const std::string& value) {
    out += name;
    out.append(name[0] != '\0' && std::strlen(name) < 15 ? 15 - std::strlen(name) : 1, ' ');
    out += value;
    out += '\n';
  };
  auto esc = [](const std::string& s) { return escape_for_operator(s, kShowTextMaxChars); };
  field("id:", d.id);
  field("state:", spool_state_name(d.state));
  field("sender:", "<" + esc(d.sender) + ">");
  size_t counts[3] = {};
  for (const RecipientDetail& r : d.recipients) ++counts[static_cast<size_t>(r.state)];
  field("recipients:", std::to_string(d.recipients.size()) + " (" + std::to_string(counts[1]) + " done, " +
                           std::to_string(counts[2]) + " failed, " + std::to_string(counts[0]) + " pending)");
  for (const RecipientDetail& r : d.recipients) {
    out += "  ";
    out += recipient_state_name(r.state);
    out.append(9 - std::strlen(recipient_state_name(r.state)), ' ');
    out += "<" + esc(r.address) + ">";
    if (!r.reply.empty()) out += "  " + esc(r.reply);
    out += '\n';
  }
  field("attempts:", std::to_string(d.attempts));
  field("first attempt:", when_text(d.first_attempt, now));
  std::string next = d.next_attempt == 0 ? "as soon as possible" : when_text(d.next_attempt, now);
  if (d.state != SpoolState::kDeferred) next = "- (" + std::string(spool_state_name(d.state)) + ")";
  field("next attempt:", next);
  field("last reply:", d.last_reply.empty() ? "-" : esc(d.last_reply));
  field("reason:", d.reason.empty() ? "-" : esc(d.reason));
  if (!d.has_meta) field("record:", "none (never attempted)");
  if (!d.problem.empty()) field("problem:", esc(d.problem));
  out += "headers:\n";
  size_t i = 0;
  const std::string& h = d.headers;
  while (i < h.size()) {
    size_t end = h.find_first_of("\r\n", i);
    if (end == std::string::npos) end = h.size();
    out += "  " + escape_for_operator(std::string_view(h).substr(i, end - i), kShowTextMaxChars) + "\n";
    i = end;
    if (i < h.size() && h[i] == '\r') ++i;
    if (i < h.size() && h[i] == '\n') ++i;
  }
  if (d.headers_cut) out += "  ... (the header section goes on past the first 65536 bytes)\n";
}

void show_json(const MessageDetails& d, std::string& out) {
  out += "{\"id\":";
  append_json_string(d.id, out);
  out += ",\"state\":\"";
  out += spool_state_name(d.state);
  out += "\",\"has_meta\":";
  out += d.has_meta ? "true" : "false";
  out += ",\"sender\":";
  append_json_string(d.sender, out);
  out += ",\"recipients\":[";
  for (size_t i = 0; i < d.recipients.size(); ++i) {
    out += i == 0 ? "{\"address\":" : ",{\"address\":";
    append_json_string(d.recipients[i].address, out);
    out += ",\"state\":\"";
    out += recipient_state_name(d.recipients[i].state);
    out += "\",\"reply\":";
    append_json_string(d.recipients[i].reply, out);
    out += "}";
  }
  out += "],\"attempts\":" + std::to_string(d.attempts);
  out += ",\"first_attempt\":" + std::to_string(d.first_attempt);
  out += ",\"next_attempt\":" + std::to_string(d.next_attempt);
  out += ",\"last_reply\":";
  append_json_string(d.last_reply, out);
  out += ",\"reason\":";
  append_json_string(d.reason, out);
  out += ",\"headers\":";
  append_json_string(d.headers, out);
  out += ",\"headers_truncated\":";
  out += d.headers_cut ? "true" : "false";
  out += ",\"problem\":";
  append_json_string(d.problem, out);
  out += "}\n";
}

int cmd_show(const Config& config, const QueueOptions& options) {
  std::string error;
  SpoolDirs dirs;
  if (!open_spool_or_say(config, /*writable=*/false, dirs)) return kQueueExitIo;
  std::vector<Target> targets;
  int code = kQueueExitOk;
  if (!resolve_one(dirs, options.show, targets, code)) return code;
  MessageDetails details;
  if (!load_message_details(dirs, targets[0].id, targets[0].state, config.smtp.default_sender, details,
                            error)) {
    std::fprintf(stderr, "ringmail queue: %s\n", error.c_str());
    return kQueueExitNoMessage;
  }
  std::string out;
  if (options.json) {
    show_json(details, out);
  } else {
    show_text(details, static_cast<int64_t>(::time(nullptr)), out);
  }
  return write_stdout(out) ? kQueueExitOk : kQueueExitIo;
}

}  // namespace

int cmd_queue(const Config& config, const QueueOptions& options) {
  if (options.flush) return cmd_flush(config, options);
  if (!options.requeue.empty()) return cmd_requeue(config, options);
  if (!options.delete_id.empty()) return cmd_delete(config, options);
  if (!options.show.empty()) return cmd_show(config, options);
  return show_report(config, options);
}

}  // namespace ringmail
