// tools/bench/bench_svg.cc — see bench_svg.h.
#include "tools/bench/bench_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tools/bench/bench_table.h"

namespace ringmail::bench {

namespace {

constexpr double kWidth = 980;
constexpr double kHeight = 500;
// Line chart area.
constexpr double kLineLeft = 80, kLineRight = 470, kLineTop = 90, kLineBottom = 400;
// Bar chart area.
constexpr double kBarLeft = 600, kBarRight = 950, kBarTop = 90, kBarBottom = 400;

const char* level_color(const std::string& name) {
  if (name == "none") return "#7f7f7f";
  if (name == "may") return "#17becf";
  if (name == "encrypt") return "#2ca02c";
  if (name == "verify") return "#1f77b4";
  if (name == "secure") return "#9467bd";
  if (name == "implicit") return "#d62728";
  return "#000000";
}

std::string escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '"') {
      out += "&quot;";
    } else {
      out += c;
    }
  }
  return out;
}

// short_rate: 54000 -> "54k", 1500 -> "1.5k", 800 -> "800".
std::string short_rate(double value) {
  if (value >= 1e6) return fmt::format("{:g}M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:g}k", value / 1e3);
  return fmt::format("{:g}", value);
}

// LogAxis maps a value onto [from, to] pixels, logarithmically.
struct LogAxis {
  double lo = 1, hi = 10, from = 0, to = 1;
  double at(double value) const {
    return from + (std::log10(value) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) * (to - from);
  }
};

std::string text_at(double x, double y, std::string_view text, const char* anchor = "middle", int size = 12,
                    const char* extra = "") {
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\" font-size=\"{}\"{}>{}</text>\n", x,
                     y, anchor, size, extra, escape(text));
}

std::string line_panel(const BenchReport& report, const std::vector<const GroupSummary*>& groups) {
  std::string svg;
  // Value range over every median and the ceiling.
  double lo = 1e18, hi = 0;
  for (const GroupSummary* group : groups) {
    for (const LevelSummary& level : group->levels) {
      lo = std::min(lo, level.msgs_per_s.median);
      hi = std::max(hi, level.msgs_per_s.median);
    }
    if (group->ceiling_msgs_per_s > 0) hi = std::max(hi, group->ceiling_msgs_per_s);
  }
  lo = std::max(lo, 1.0);
  hi = std::max(hi, lo * 2);
  LogAxis y{std::pow(10, std::floor(std::log10(lo))), std::pow(10, std::ceil(std::log10(hi))), kLineBottom,
            kLineTop};
  const double pc_lo = groups.front()->per_connection;
  const double pc_hi = groups.back()->per_connection;
  LogAxis x{pc_lo / 2, pc_hi * 2, kLineLeft, kLineRight};
  if (pc_lo == pc_hi) x = LogAxis{pc_lo / 4, pc_hi * 4, kLineLeft, kLineRight};

  svg += text_at((kLineLeft + kLineRight) / 2, kLineTop - 30, "Throughput against messages per connection",
                 "middle", 15, " font-weight=\"bold\"");
  svg += text_at((kLineLeft + kLineRight) / 2, kLineTop - 12, "median msg/s, both axes logarithmic", "middle",
                 12, " fill=\"#555\"");
  // Grid: 1, 2, 5 × 10^k on y; the measured per-connection values on x.
  for (double decade = y.lo; decade < y.hi * 1.01; decade *= 10) {
    for (const double step : {1.0, 2.0, 5.0}) {
      const double value = decade * step;
      if (value > y.hi * 1.01) break;
      const double py = y.at(value);
      svg += fmt::format(
          "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"1\"/>\n",
          kLineLeft, py, kLineRight, py, step == 1.0 ? "#cccccc" : "#eeeeee");
      svg += text_at(kLineLeft - 6, py + 4, short_rate(value), "end", 11);
    }
  }
  for (const GroupSummary* group : groups) {
    const double px = x.at(group->per_connection);
    svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#eeeeee\"/>\n", px,
                       kLineTop, px, kLineBottom);
    svg += text_at(px, kLineBottom + 18, std::to_string(group->per_connection), "middle", 12);
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n",
                     kLineLeft, kLineTop, kLineRight - kLineLeft, kLineBottom - kLineTop);
  svg += text_at((kLineLeft + kLineRight) / 2, kLineBottom + 38, "messages per connection", "middle", 13);
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 {} "
      "{})\">msg/s</text>\n",
      kLineLeft - 52, (kLineTop + kLineBottom) / 2, kLineLeft - 52, (kLineTop + kLineBottom) / 2);

  // The crypto ceiling.
  std::string ceiling_points;
  for (const GroupSummary* group : groups) {
    if (group->ceiling_msgs_per_s <= 0) continue;
    ceiling_points +=
        fmt::format("{:.1f},{:.1f} ", x.at(group->per_connection), y.at(group->ceiling_msgs_per_s));
  }
  if (!ceiling_points.empty()) {
    svg += "<g class=\"ceiling\">\n";
    if (groups.size() > 1) {
      svg += fmt::format(
          "<polyline points=\"{}\" fill=\"none\" stroke=\"#444\" stroke-width=\"2\" stroke-dasharray=\"6 "
          "4\"/>\n",
          ceiling_points);
    }
    for (const GroupSummary* group : groups) {
      if (group->ceiling_msgs_per_s <= 0) continue;
      const double px = x.at(group->per_connection);
      const double py = y.at(group->ceiling_msgs_per_s);
      svg += fmt::format(
          "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#444\" stroke-width=\"2\" "
          "stroke-dasharray=\"6 4\"><title>crypto ceiling at {} per connection: {} msg/s</title></line>\n",
          px - 18, py, px + 18, py, group->per_connection, with_commas(group->ceiling_msgs_per_s));
    }
    const GroupSummary* last = groups.back();
    svg += text_at(x.at(last->per_connection) - 22, y.at(last->ceiling_msgs_per_s) - 7,
                   fmt::format("crypto ceiling ({} CPUs, TLS only)", report.machine.cpus), "end", 11,
                   " fill=\"#444\"");
    svg += "</g>\n";
  }

  // One series per level.
  for (size_t i = 0; i < groups.front()->levels.size(); ++i) {
    const LevelSummary& first = groups.front()->levels[i];
    const char* color = level_color(first.level.name);
    svg += fmt::format("<g class=\"series\" data-level=\"{}\">\n", escape(first.level.name));
    std::string points;
    for (const GroupSummary* group : groups) {
      const LevelSummary& level = group->levels[i];
      points += fmt::format("{:.1f},{:.1f} ", x.at(group->per_connection), y.at(level.msgs_per_s.median));
    }
    if (groups.size() > 1) {
      svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\"/>\n",
                         points, color);
    }
    for (const GroupSummary* group : groups) {
      const LevelSummary& level = group->levels[i];
      svg += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4.5\" fill=\"{}\"><title>{}, {} per connection: {} msg/s "
          "(median of {})</title></circle>\n",
          x.at(group->per_connection), y.at(level.msgs_per_s.median), color, escape(level.level.name),
          group->per_connection, with_commas(level.msgs_per_s.median), level.runs.size());
    }
    svg += "</g>\n";
  }
  // Legend, in two rows under the axis title.
  const size_t count = groups.front()->levels.size();
  for (size_t i = 0; i < count; ++i) {
    const std::string& name = groups.front()->levels[i].level.name;
    const double lx = kLineLeft + 10 + static_cast<double>(i % 3) * 130;
    const double ly = kLineBottom + 60 + static_cast<double>(i / 3) * 18;
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"3\"/>\n",
        lx, ly - 4, lx + 22, ly - 4, level_color(name));
    svg += text_at(lx + 28, ly, name == "implicit" ? "implicit TLS (verify)" : name, "start", 12);
  }
  return svg;
}

std::string bar_panel(const GroupSummary& group) {
  std::string svg;
  double top = 0;
  for (const LevelSummary& level : group.levels)
    top = std::max({top, level.engine_us, level.floor_engine_us});
  top = top > 0 ? top * 1.18 : 1;
  auto y_at = [&](double value) { return kBarBottom - value / top * (kBarBottom - kBarTop); };
  svg += text_at((kBarLeft + kBarRight) / 2, kBarTop - 30, "Engine CPU per message", "middle", 15,
                 " font-weight=\"bold\"");
  svg += text_at((kBarLeft + kBarRight) / 2, kBarTop - 12,
                 fmt::format("µs, {} per connection; shaded: TLS crypto floor", group.per_connection),
                 "middle", 12, " fill=\"#555\"");
  // Grid lines at round steps.
  const double raw_step = top / 5;
  const double magnitude = std::pow(10, std::floor(std::log10(raw_step)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    if (magnitude * m >= raw_step) {
      step = magnitude * m;
      break;
    }
  }
  for (double value = 0; value <= top; value += step) {
    svg += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>\n",
                       kBarLeft, y_at(value), kBarRight, y_at(value));
    svg += text_at(kBarLeft - 6, y_at(value) + 4, fmt::format("{:g}", value), "end", 11);
  }
  const double slot = (kBarRight - kBarLeft) / static_cast<double>(group.levels.size());
  const double width = std::min(slot * 0.62, 60.0);
  for (size_t i = 0; i < group.levels.size(); ++i) {
    const LevelSummary& level = group.levels[i];
    const double cx = kBarLeft + slot * (static_cast<double>(i) + 0.5);
    const char* color = level_color(level.level.name);
    svg += fmt::format("<g class=\"bar\" data-level=\"{}\">\n", escape(level.level.name));
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: engine "
        "{:.1f} "
        "µs/msg (median), crypto floor {:.1f}</title></rect>\n",
        cx - width / 2, y_at(level.engine_us), width, kBarBottom - y_at(level.engine_us), color,
        escape(level.level.name), level.engine_us, level.floor_engine_us);
    if (level.floor_engine_us > 0) {
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#000\" "
          "fill-opacity=\"0.35\"/>\n",
          cx - width / 2, y_at(level.floor_engine_us), width, kBarBottom - y_at(level.floor_engine_us));
    }
    svg += text_at(cx, y_at(level.engine_us) - 6, fmt::format("{:.1f}", level.engine_us), "middle", 12,
                   " font-weight=\"bold\"");
    svg += text_at(cx, kBarBottom + 18, level.level.name, "middle", 12);
    if (level.engine_cpu_ratio) {
      svg += text_at(cx, kBarBottom + 34, fmt::format("×{:.2f}", level.engine_cpu_ratio->median), "middle",
                     11, " fill=\"#555\"");
    }
    svg += "</g>\n";
  }
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", kBarLeft,
                     kBarBottom, kBarRight, kBarBottom);
  svg += text_at((kBarLeft + kBarRight) / 2, kBarBottom + 54, "×: engine CPU against none, same run",
                 "middle", 11, " fill=\"#555\"");
  return svg;
}

}  // namespace

std::string format_svg(const BenchReport& report) {
  // The first size's groups, in per-connection order.
  std::vector<const GroupSummary*> groups;
  for (const GroupSummary& group : report.groups) {
    if (group.size == report.groups.front().size) groups.push_back(&group);
  }
  std::sort(groups.begin(), groups.end(), [](const GroupSummary* a, const GroupSummary* b) {
    return a->per_connection < b->per_connection;
  });
  const BenchPlan& plan = report.plan;
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 "
      "{0} {1}\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, kHeight);
  svg += text_at(24, 28, "ringmail bench: the throughput cost of strict TLS", "start", 18,
                 " font-weight=\"bold\"");
  svg += text_at(
      24, 48,
      fmt::format("{} alerts, {} per run, median of {}; {} CPUs, {} engine workers, {} connections; "
                  "spool on {}; {} certificate; resumption {}",
                  size_label(groups.front()->size), with_commas(static_cast<double>(plan.messages)),
                  plan.runs, report.machine.cpus, report.machine.workers, plan.connections,
                  report.machine.spool_fs.describe(), cert_name(plan.cert), plan.resumption ? "on" : "off"),
      "start", 12, " fill=\"#333\"");
  svg += line_panel(report, groups);
  svg += bar_panel(*groups.back());
  svg += "</svg>\n";
  return svg;
}

}  // namespace ringmail::bench
