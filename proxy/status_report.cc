#include "proxy/status_report.h"

#include <cstdio>
#include <ctime>

namespace portcullis::proxy {

namespace {

// JSON strings (RFC 8259 7). Bytes outside ASCII are escaped one by one as \u00XX: the output is
// valid JSON whatever a name or path holds (a DNS name off the wire need not be UTF-8).
void string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// A JSON writer that places the commas; object() and array() write the brackets around what
// their callback writes, so a nested document reads as its shape.
class Json {
 public:
  template <class F>
  void object(F&& body) {
    open('{');
    body();
    close('}');
  }
  template <class F>
  void object(std::string_view k, F&& body) {
    key(k);
    object(std::forward<F>(body));
  }
  // One element per item of `items`, each written by `each(item)`.
  template <class Items, class F>
  void array(std::string_view k, const Items& items, F&& each) {
    key(k);
    open('[');
    for (const auto& item : items) each(item);
    close(']');
  }
  void value(std::string_view v) { comma(); string(out_, v); }
  void value(const char* v) { value(std::string_view(v)); }
  void value(uint64_t v) { comma(); out_ += std::to_string(v); }
  void value(bool v) { comma(); out_ += v ? "true" : "false"; }
  template <class T>
  void field(std::string_view k, const T& v) { key(k); value(v); }
  void field(std::string_view k, const std::optional<std::string>& v) {
    key(k);
    if (v) {
      value(*v);
    } else {
      comma();
      out_ += "null";
    }
  }
  std::string take() { return std::move(out_); }

 private:
  void open(char c) { comma(); out_ += c; first_ = true; }
  void close(char c) { out_ += c; first_ = false; }
  void key(std::string_view k) {
    comma();
    string(out_, k);
    out_ += ':';
    first_ = true;  // the value follows without a comma
  }
  void comma() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string out_;
  bool first_ = true;
};

}  // namespace

std::string formatMark(uint32_t mark) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", mark);
  return buf;
}

std::string formatUtc(std::chrono::system_clock::time_point at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string toJson(const StatusReport& r) {
  using L = StatusReport::Listener;
  Json j;
  j.object([&] {
    j.field("version", r.version);
    j.field("started_at", r.started_at);
    j.field("uptime_seconds", r.uptime_seconds);
    j.field("healthy", r.healthy);
    j.object("policy", [&] {
      j.field("generation", r.policy_generation);
      j.field("reloads_ok", r.reloads_ok);
      j.field("reloads_failed", r.reloads_failed);
      j.array("files", r.policy_files, [&](const StatusReport::PolicyFile& f) {
        j.object([&] {
          j.field("path", f.path);
          j.field("sha256", f.sha256);
          if (!f.error.empty()) j.field("error", f.error);
        });
      });
      j.array("rules", r.rules, [&](const StatusReport::Rule& rule) {
        j.object([&] {
          j.field("name", rule.name);
          j.field("direction", rule.direction);
          j.field("protocol", rule.protocol);
        });
      });
    });
    j.array("listeners", r.listeners, [&](const L& l) {
      j.object([&] {
        j.field("name", l.name);
        j.field("direction", l.direction);
        j.field("protocol", l.protocol);
        j.field("transport", l.transport);
        j.field("port", uint64_t{l.port});
        j.field("mark", formatMark(l.mark));
        j.field("open", l.open);
        j.object("counters", [&] {
          j.field("allowed", l.allowed);
          j.field("denied", l.denied);
          j.field("parse_errors", l.parse_errors);
          j.field("upstream_failures", l.upstream_failures);
          j.field("active_connections", l.active_connections);
        });
      });
    });
    j.object("datapath", [&] {
      j.field("installed", r.datapath_installed);
      j.field("iptables", r.iptables_backend);
      j.field("repairs", r.datapath_repairs);
      j.field("reconcile_failures", r.reconcile_failures);
      j.field("last_repair", r.last_repair);
      j.field("last_check", r.last_check);
    });
    j.object("dns", [&] {
      j.field("learned_names", r.learned_names_count);
      j.array("names", r.learned_names, [&](const StatusReport::LearnedName& n) {
        j.object([&] {
          j.field("name", n.name);
          j.array("addresses", n.addresses, [&](const std::string& a) { j.value(a); });
        });
      });
    });
  });
  std::string out = j.take();
  out += '\n';
  return out;
}

}  // namespace portcullis::proxy
