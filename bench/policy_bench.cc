// Verdict latency of the compiled policy as the policy grows (issue 2's targets: median HTTP
// verdict under 2 us and DNS under 1 us at 10,000 entries, growth from 1,000 to 10,000 entries
// under 3x). Run from a build directory: bench/policy_bench [--benchmark_filter=http]
//
// The HTTP policies put every rule on the same port with no CIDRs, so every rule selects the
// flow and the verdict alone must keep the cost flat. The matching request hits an entry near
// the end of the policy, the worst place for a linear scan.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "policy/compiled_policy.h"

namespace portcullis::policy {
namespace {

constexpr int kEntriesPerRule = 10;

std::shared_ptr<const CompiledPolicy> compileOrDie(const Policy& policy) {
  auto compiled = CompiledPolicy::compile(policy);
  if (!compiled.ok()) {
    for (const auto& e : compiled.errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
    std::abort();
  }
  return *compiled.value;
}

Rule rule(std::string name, L7Protocol l7, uint16_t port) {
  Rule r;
  r.name = std::move(name);
  r.l7 = l7;
  r.selector.ports = {{port, Protocol::kTcp}};
  return r;
}

// Even entries: one API host each (`api-<i>.svc.example.test`, GET|HEAD on /v1/...). Odd
// entries: one tenant path each (`/tenants/<i>/(items|orders)/<id>`), any host, with a header
// requirement. So both the host and the path sets hold n/2 distinct patterns.
Policy httpPolicy(int entries) {
  Policy p;
  for (int i = 0; i < entries; ++i) {
    if (i % kEntriesPerRule == 0) {
      p.rules.push_back(rule("http-" + std::to_string(i / kEntriesPerRule), L7Protocol::kHttp, 80));
    }
    HttpRule e;
    if (i % 2 == 0) {
      e.method = "GET|HEAD";
      e.path = "/v1/.*";
      e.host = "api-" + std::to_string(i) + "\\.svc\\.example\\.test";
    } else {
      e.method = "GET|POST";
      e.path = "/tenants/" + std::to_string(i) + "/(items|orders)/[0-9]+";
      e.headers = {"X-Tenant-Auth"};
    }
    p.rules.back().http.push_back(std::move(e));
  }
  return p;
}

const CompiledPolicy& httpCompiled(int entries) {
  static std::map<int, std::shared_ptr<const CompiledPolicy>> cache;
  auto& slot = cache[entries];
  if (!slot) slot = compileOrDie(httpPolicy(entries));
  return *slot;
}

const Flow kWebFlow{Direction::kEgress, IpAddress::v4(0xc6120a01), IpAddress::v4(0xc6120201), 80,
                    Protocol::kTcp};

enum class Request { kMatchHost, kMatchPath, kNoMatch };

void httpVerdict(benchmark::State& state, int entries, Request which) {
  const CompiledPolicy& policy = httpCompiled(entries);
  const FlowRules rules = policy.matchFlow(kWebFlow, L7Protocol::kHttp);
  const int last_even = (entries - 1) & ~1;
  const int last_odd = entries % 2 == 0 ? entries - 1 : entries - 2;
  const std::string host = which == Request::kMatchHost
                               ? "api-" + std::to_string(last_even) + ".svc.example.test"
                               : "unknown.example.test";
  const std::string target = which == Request::kMatchPath
                                 ? "/tenants/" + std::to_string(last_odd) + "/orders/42"
                                 : "/v1/status?verbose=1";
  const std::vector<HeaderView> headers = {
      {"User-Agent", "curl/7.88.1"}, {"Accept", "*/*"}, {"X-Tenant-Auth", "token"}};
  const HttpRequestView request{"GET", target, host, headers};
  const bool expected = which != Request::kNoMatch;
  if (policy.http(rules, request).allowed != expected) state.SkipWithError("unexpected verdict");
  for (auto _ : state) benchmark::DoNotOptimize(policy.http(rules, request));
  state.counters["rules"] = static_cast<double>(rules.rules.size());
}

// 40% `*.svc<i>.example.test`, 20% matchName `host<i>.corp.test`, 20% `**.zone<i>.test`,
// 20% `api-<i>-*.apps.test` (these 2,000 share one suffix, so one bucket holds them all).
Policy dnsPolicy(int entries) {
  Policy p;
  for (int i = 0; i < entries; ++i) {
    if (i % kEntriesPerRule == 0) {
      p.rules.push_back(rule("dns-" + std::to_string(i / kEntriesPerRule), L7Protocol::kDns, 53));
    }
    DnsRule e;
    const std::string k = std::to_string(i);
    switch (i % 5) {
      case 0:
      case 1:
        e.match_pattern = "*.svc" + k + ".example.test";
        break;
      case 2:
        e.match_name = "host" + k + ".corp.test";
        break;
      case 3:
        e.match_pattern = "**.zone" + k + ".test";
        break;
      default:
        e.match_pattern = "api-" + k + "-*.apps.test";
        break;
    }
    p.rules.back().dns.push_back(std::move(e));
  }
  return p;
}

const Flow kDnsFlow{Direction::kEgress, IpAddress::v4(0xc6120a01), IpAddress::v4(0xc6120035), 53,
                    Protocol::kTcp};

void dnsVerdict(benchmark::State& state, int entries, std::vector<std::string> names,
                bool expected) {
  static std::map<int, std::shared_ptr<const CompiledPolicy>> cache;
  auto& slot = cache[entries];
  if (!slot) slot = compileOrDie(dnsPolicy(entries));
  const CompiledPolicy& policy = *slot;
  const FlowRules rules = policy.matchFlow(kDnsFlow, L7Protocol::kDns);
  for (const auto& n : names) {
    if (policy.dns(rules, n).allowed != expected)
      state.SkipWithError(("unexpected verdict " + n).c_str());
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(policy.dns(rules, names[i]));
    i = i + 1 == names.size() ? 0 : i + 1;
  }
}

std::vector<std::string> dnsNames(int entries, bool matching, int count) {
  std::vector<std::string> out;
  for (int n = 0; n < count; ++n) {
    // Spread over the policy, every kind of entry.
    const int i = static_cast<int>((static_cast<int64_t>(n) * 7919) % entries);
    const std::string k = std::to_string(i);
    if (!matching) {
      out.push_back(n % 2 ? "www.svc" + k + ".example.org" : "api-" + k + ".apps.test");
      continue;
    }
    switch (i % 5) {
      case 0:
      case 1:
        out.push_back("www.svc" + k + ".example.test");
        break;
      case 2:
        out.push_back("HOST" + k + ".corp.test.");
        break;
      case 3:
        out.push_back("a.b.zone" + k + ".test");
        break;
      default:
        out.push_back("api-" + k + "-blue.apps.test");
        break;
    }
  }
  return out;
}

// matchFlow (once per connection): each rule selects one destination /32 and every tenth also
// a source /24, on one port, so the CIDR tries hold n prefixes.
void matchFlow(benchmark::State& state, int rules) {
  Policy p;
  for (int i = 0; i < rules; ++i) {
    Rule r = rule("r" + std::to_string(i), L7Protocol::kHttp, 80);
    r.selector.destination_cidrs = {Cidr(IpAddress::v4(0xc6120000 + i), 32)};  // 198.18.x.y
    if (i % 10 == 0)
      r.selector.source_cidrs = {Cidr(IpAddress::v4(0xc6130000 + ((i / 10 % 256) << 8)), 24)};
    p.rules.push_back(std::move(r));
  }
  p.rules.push_back(rule("any-destination", L7Protocol::kHttp, 80));
  const auto policy = compileOrDie(p);
  // Rule rules/2 + 1 has no source prefix: it and "any-destination" select the flow.
  const Flow f{Direction::kEgress, IpAddress::v4(0xc6130001),
               IpAddress::v4(0xc6120000 + rules / 2 + 1), 80, Protocol::kTcp};
  if (policy->matchFlow(f, L7Protocol::kHttp).rules.size() != 2)
    state.SkipWithError("unexpected rules");
  for (auto _ : state) benchmark::DoNotOptimize(policy->matchFlow(f, L7Protocol::kHttp));
}

void compileHttp(benchmark::State& state, int entries) {
  const Policy p = httpPolicy(entries);
  for (auto _ : state) benchmark::DoNotOptimize(compileOrDie(p));
}

// Prints each run, then the growth of the HTTP verdict medians from 1,000 to 10,000 entries,
// in real time and in CPU time (the steadier one on a shared machine).
class GrowthReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      medians_[r.run_name.function_name] = {r.GetAdjustedRealTime(), r.GetAdjustedCPUTime()};
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const char* kind : {"http/match-host", "http/match-path", "http/no-match"}) {
      const auto small = medians_.find(std::string(kind) + "/1000");
      const auto large = medians_.find(std::string(kind) + "/10000");
      if (small == medians_.end() || large == medians_.end()) continue;
      const auto [real_small, cpu_small] = small->second;
      const auto [real_large, cpu_large] = large->second;
      std::printf(
          "growth %-16s 1,000 -> 10,000 entries: real %.2fx (%.0f -> %.0f ns), "
          "cpu %.2fx (%.0f -> %.0f ns)\n",
          kind, real_large / real_small, real_small, real_large, cpu_large / cpu_small, cpu_small,
          cpu_large);
    }
  }

 private:
  std::map<std::string, std::pair<double, double>> medians_;  // real, cpu
};

void registerAll() {
  const std::pair<const char*, Request> kinds[] = {{"match-host", Request::kMatchHost},
                                                   {"match-path", Request::kMatchPath},
                                                   {"no-match", Request::kNoMatch}};
  for (const int n : {10, 1000, 10000}) {
    for (const auto& [name, which] : kinds) {
      benchmark::RegisterBenchmark(("http/" + std::string(name) + "/" + std::to_string(n)).c_str(),
                                   httpVerdict, n, which)
          ->Repetitions(5)
          ->ReportAggregatesOnly(true);
    }
  }
  const int dns_entries = 10000;
  benchmark::RegisterBenchmark("dns/match-one/10000", dnsVerdict, dns_entries,
                               std::vector<std::string>{"www.svc9995.example.test"}, true)
      ->Repetitions(5)
      ->ReportAggregatesOnly(true);
  benchmark::RegisterBenchmark("dns/no-match-one/10000", dnsVerdict, dns_entries,
                               std::vector<std::string>{"www.unknown.example.org"}, false)
      ->Repetitions(5)
      ->ReportAggregatesOnly(true);
  // 1,024 different names in turn: no single cached path.
  benchmark::RegisterBenchmark("dns/match-varied/10000", dnsVerdict, dns_entries,
                               dnsNames(dns_entries, true, 1024), true)
      ->Repetitions(5)
      ->ReportAggregatesOnly(true);
  benchmark::RegisterBenchmark("dns/no-match-varied/10000", dnsVerdict, dns_entries,
                               dnsNames(dns_entries, false, 1024), false)
      ->Repetitions(5)
      ->ReportAggregatesOnly(true);
  for (const int n : {10, 1000, 10000}) {
    benchmark::RegisterBenchmark(("match-flow/" + std::to_string(n)).c_str(), matchFlow, n);
  }
  benchmark::RegisterBenchmark("compile/http/10000", compileHttp, 10000)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3);
}

}  // namespace
}  // namespace portcullis::policy

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  portcullis::policy::registerAll();
  portcullis::policy::GrowthReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
