// tools/bench/bench_svg.cc — see bench_svg.h.
#include "tools/bench/bench_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tools/bench/bench_table.h"

namespace ringmail::bench {

namespace {

constexpr double kWidth = 980;
constexpr double kHeight = 550;
// Line chart area.
constexpr double kLineLeft = 80, kLineRight = 470, kLineTop = 115, kLineBottom = 420;
// Bar chart area (the right panel; the left one too, with one
// messages-per-connection value).
constexpr double kBarLeft = 600, kBarRight = 950, kBarTop = 115, kBarBottom = 420;

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
    if (groups.size() == 1 && groups.front()->ceiling_msgs_per_s > 0) {  // no line to draw: a mark
      const double px = x.at(groups.front()->per_connection);
      const double py = y.at(groups.front()->ceiling_msgs_per_s);
      svg += fmt::format(
          "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#444\" stroke-width=\"2\" "
          "stroke-dasharray=\"6 4\"/>\n",
          px - 30, py, px + 30, py);
    }
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
  // The ceiling's entry, on the row after the levels.
  const double ly = kLineBottom + 60 + static_cast<double>((count + 2) / 3) * 18;
  svg += fmt::format(
      "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#444\" stroke-width=\"2\" "
      "stroke-dasharray=\"6 4\"/>\n",
      kLineLeft + 10, ly - 4, kLineLeft + 32, ly - 4);
  svg +=
      text_at(kLineLeft + 38, ly,
              fmt::format("crypto ceiling: the rate if {} CPUs did only the TLS crypto", report.machine.cpus),
              "start", 12);
  return svg;
}

// Bar is one level's bar: its value, an optional shaded foot (the crypto
// floor) and optional whiskers (min–max over the runs).
struct Bar {
  std::string level;
  double value = 0;
  double shaded = 0;       // 0: none
  double whisker_lo = -1;  // < 0: none
  double whisker_hi = -1;
  std::string label;  // above the bar
  std::string below;  // second line under the level name
  std::string title;  // tooltip
};

struct BarChart {
  double left = 0, right = 0;
  std::string title, subtitle, note;
  const char* group_class = "bar";  // class of each bar's <g>
};

// round_step: a 1, 2 or 5 × 10^k step giving about five grid lines to |top|.
double round_step(double top) {
  const double raw_step = top / 5;
  const double magnitude = std::pow(10, std::floor(std::log10(raw_step)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (magnitude * m >= raw_step) return magnitude * m;
  }
  return magnitude * 10;
}

std::string bar_chart(const BarChart& chart, const std::vector<Bar>& bars, std::string (*tick_text)(double)) {
  std::string svg;
  const double bottom = kBarBottom, top_px = kBarTop;
  double top = 0;
  for (const Bar& bar : bars) top = std::max({top, bar.value, bar.shaded, bar.whisker_hi});
  top = top > 0 ? top * 1.18 : 1;
  auto y_at = [&](double value) { return bottom - value / top * (bottom - top_px); };
  svg += text_at((chart.left + chart.right) / 2, top_px - 30, chart.title, "middle", 15,
                 " font-weight=\"bold\"");
  svg += text_at((chart.left + chart.right) / 2, top_px - 12, chart.subtitle, "middle", 12, " fill=\"#555\"");
  const double step = round_step(top);
  for (double value = 0; value <= top; value += step) {
    svg += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>\n",
                       chart.left, y_at(value), chart.right, y_at(value));
    svg += text_at(chart.left - 6, y_at(value) + 4, tick_text(value), "end", 11);
  }
  const double slot = (chart.right - chart.left) / static_cast<double>(bars.size());
  const double width = std::min(slot * 0.62, 60.0);
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& bar = bars[i];
    const double cx = chart.left + slot * (static_cast<double>(i) + 0.5);
    svg += fmt::format("<g class=\"{}\" data-level=\"{}\">\n", chart.group_class, escape(bar.level));
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"{}\"><title>{}</title></rect>\n",
        cx - width / 2, y_at(bar.value), width, bottom - y_at(bar.value), level_color(bar.level),
        escape(bar.title));
    if (bar.shaded > 0) {
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#000\" "
          "fill-opacity=\"0.35\"/>\n",
          cx - width / 2, y_at(bar.shaded), width, bottom - y_at(bar.shaded));
    }
    double label_y = y_at(bar.value) - 6;
    if (bar.whisker_lo >= 0 && bar.whisker_hi > bar.whisker_lo) {
      const double lo = y_at(bar.whisker_lo), hi = y_at(bar.whisker_hi);
      svg += fmt::format(
          "<path d=\"M{0:.1f},{1:.1f}H{2:.1f}M{3:.1f},{1:.1f}V{4:.1f}M{0:.1f},{4:.1f}H{2:.1f}\" "
          "stroke=\"#222\" "
          "fill=\"none\"/>\n",
          cx - 6, lo, cx + 6, cx, hi);
      label_y = std::min(label_y, hi - 6);
    }
    svg += text_at(cx, label_y, bar.label, "middle", 12, " font-weight=\"bold\"");
    svg += text_at(cx, bottom + 18, bar.level, "middle", 12);
    if (!bar.below.empty()) svg += text_at(cx, bottom + 34, bar.below, "middle", 11, " fill=\"#555\"");
    svg += "</g>\n";
  }
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", chart.left, bottom,
                     chart.right, bottom);
  svg += text_at((chart.left + chart.right) / 2, bottom + 54, chart.note, "middle", 11, " fill=\"#555\"");
  return svg;
}

std::string plain_tick(double value) { return fmt::format("{:g}", value); }
std::string rate_tick(double value) { return short_rate(value); }

// throughput_bars: with one messages-per-connection value there is no
// curve to draw; the levels' throughput as bars (whiskers: min–max).
std::string throughput_bars(const BenchReport& report, const GroupSummary& group) {
  std::vector<Bar> bars;
  for (const LevelSummary& level : group.levels) {
    Bar bar;
    bar.level = level.level.name;
    bar.value = level.msgs_per_s.median;
    bar.whisker_lo = level.msgs_per_s.min;
    bar.whisker_hi = level.msgs_per_s.max;
    bar.label = short_rate(std::round(level.msgs_per_s.median / 100) * 100);
    if (level.throughput_ratio) bar.below = fmt::format("×{:.2f}", level.throughput_ratio->median);
    bar.title =
        fmt::format("{}: {} msg/s median ({} to {})", level.level.name, with_commas(level.msgs_per_s.median),
                    with_commas(level.msgs_per_s.min), with_commas(level.msgs_per_s.max));
    bars.push_back(bar);
  }
  BarChart chart;
  chart.left = kLineLeft;
  chart.right = kLineRight;
  chart.title = "Throughput per TLS level";
  chart.subtitle = fmt::format("median msg/s (whiskers: min–max), {} per connection", group.per_connection);
  chart.note = fmt::format("×: msg/s against none, same run; crypto ceiling ({} CPUs, TLS only): {} msg/s",
                           report.machine.cpus, with_commas(group.ceiling_msgs_per_s));
  chart.group_class = "series";
  return bar_chart(chart, bars, rate_tick);
}

std::string engine_cpu_bars(const GroupSummary& group) {
  std::vector<Bar> bars;
  for (const LevelSummary& level : group.levels) {
    Bar bar;
    bar.level = level.level.name;
    bar.value = level.engine_us;
    bar.shaded = level.floor_engine_us;
    bar.label = fmt::format("{:.1f}", level.engine_us);
    if (level.engine_cpu_ratio) bar.below = fmt::format("×{:.2f}", level.engine_cpu_ratio->median);
    bar.title = fmt::format("{}: engine {:.1f} µs/msg (median), crypto floor {:.1f}", level.level.name,
                            level.engine_us, level.floor_engine_us);
    bars.push_back(bar);
  }
  BarChart chart;
  chart.left = kBarLeft;
  chart.right = kBarRight;
  chart.title = "Engine CPU per message";
  chart.subtitle = fmt::format("µs, {} per connection; shaded: TLS crypto floor", group.per_connection);
  chart.note = "×: engine CPU against none, same run";
  return bar_chart(chart, bars, plain_tick);
}

}  // namespace

std::string format_svg(const BenchReport& report) {
  // The first size's groups, in per-connection order.
  std::vector<const GroupSummary*> groups;
  for (const GroupSummary& group : report.groups) {
    if (group.size == report.groups.front().size && group.resumption == report.groups.front().resumption) {
      groups.push_back(&group);
    }
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
  svg +=
      text_at(24, 48,
              fmt::format("{} alerts, {} per run, median of {}; {} CPUs, {} engine workers, {} connections; "
                          "spool on {}; {} certificate; resumption {}",
                          size_label(groups.front()->size), with_commas(static_cast<double>(plan.messages)),
                          plan.runs, report.machine.cpus, report.machine.workers, plan.connections,
                          report.machine.spool_fs.describe(), cert_name(plan.cert),
                          groups.front()->resumption ? "on" : "off"),
              "start", 11, " fill=\"#333\"");
  svg += groups.size() > 1 ? line_panel(report, groups) : throughput_bars(report, *groups.front());
  svg += engine_cpu_bars(*groups.back());
  svg += "</svg>\n";
  return svg;
}

}  // namespace ringmail::bench
